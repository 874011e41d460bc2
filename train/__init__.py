"""cak_train (the folder train/): CAK training, the only part of cak that needs torch: corpus
builder, AuGAN WGAN-GP trainer, preset export."""
