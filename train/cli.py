"""``cak train``: prepare a corpus, fit a kernel and export it as a preset, plot training curves."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from cak_dsp.preset import PresetError

from .corpus import LABEL_MODES, LABEL_SCALES, CorpusError, load_corpus, prepare
from .fit import AUDITS, FitConfig, FitError, code_version, export_preset, fit
from .plot import plot_history

PROG = "cak train"


def _crop(text: str) -> tuple[int, int] | None:
    if text == "full":
        return None
    try:
        bins, frames = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BINSxFRAMES (e.g. 32x32) or 'full', got {text!r}") from None
    if bins < 8 or frames < 8:
        raise argparse.ArgumentTypeError("crops must be at least 8x8 (the critic downsamples by 8)")
    return bins, frames


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train CAK kernels (arXiv 2508.02643) on your own sounds and export them as presets.",
        epilog="typical run:\n"
               "  cak train prepare my_sounds/ -o corpus/ --labels flatness\n"
               "  cak train fit corpus/ -o presets/mine.json --plot curves.png\n"
               "  cak train plot corpus/checkpoints/mine.pt -o curves.png")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{prepare,fit,plot}")

    p = sub.add_parser("prepare", help="build a training corpus from a folder of audio files",
                       description="Cut each audio file under AUDIO_DIR to a centred segment with fades, resample, "
                                   "compute corpus-wide normalization stats and store normalized STFT magnitudes "
                                   "with a texture label per segment. Unreadable files are reported and skipped.")
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR", help="folder searched recursively for wav/flac/aiff/ogg/mp3")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="CORPUS_DIR", help="corpus folder to write")
    p.add_argument("--labels", choices=LABEL_MODES, default="random",
                   help="texture label per segment: 'random' uniform 0.1..1.0 (seeded, as published), 'flatness' "
                        "(spectral flatness: tonal -> noisy) or 'onsets' (onset density: sparse -> busy), both "
                        "scaled to 0.1..1.0 (default: random)")
    p.add_argument("--label-scale", choices=LABEL_SCALES, default="minmax",
                   help="how measured descriptors map to 0.1..1.0: 'minmax' (linear; outliers crowd the rest "
                        "together, so low -> high pairs can fall under the gate at c = 0.3) or 'rank' (evenly "
                        "spread, like random labels) (default minmax)")
    p.add_argument("--seed", type=int, default=0, help="seed for random labels (default 0)")
    p.add_argument("--seconds", type=float, default=15.0, help="segment length in seconds (default 15)")
    p.add_argument("--fade", type=float, default=2.0, help="fade-in/out length in seconds (default 2)")
    p.add_argument("--sample-rate", type=int, default=44100, help="resample to this rate (default 44100)")
    p.add_argument("--description", default="", help="corpus description recorded in presets trained on it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    f = sub.add_parser("fit", help="train a CAK kernel on a prepared corpus and export it as a preset",
                       description="WGAN-GP training of the 3x3 CAK kernel (arXiv 2508.02643): 5 critic steps per "
                                   "generator step, Adam 1e-4 (0, 0.9), gate temperature 2 -> 20 over the first "
                                   "epochs. An epoch is one pass over the identity and low->high texture pairs; "
                                   "each pair is seen through one random time-frequency crop (or in full).")
    f.add_argument("corpus", type=Path, metavar="CORPUS_DIR", help="folder written by 'cak train prepare'")
    f.add_argument("-o", "--output", type=Path, required=True, metavar="PRESET.json", help="preset file to write")
    f.add_argument("--name", help="preset name (default: output file stem)")
    f.add_argument("--description", default="", help="preset description")
    f.add_argument("--epochs", type=int, default=100, help="epochs (default 100, as published)")
    f.add_argument("--batch-size", type=int, default=16, help="pairs per batch (default 16)")
    f.add_argument("--crop", type=_crop, default=(32, 32), metavar="BINSxFRAMES|full",
                   help="random crop size, or 'full' for whole spectrograms as published (default 32x32)")
    f.add_argument("--anneal-epochs", type=int, default=5, help="epochs of the 2 -> 20 temperature ramp (default 5)")
    f.add_argument("--audit", choices=AUDITS, default="spectrogram",
                   help="where the audit V = |mean(D(fake)) - c| takes its mean: each pair's whole spectrogram, "
                        "as published (default), or only the crop (the recipe before 'spectrogram' existed)")
    f.add_argument("--causal", action="store_true", help="hold the kernel's future-time column at zero (no look-ahead)")
    f.add_argument("--seed", type=int, default=0, help="seed for initialization, pairing order and crops (default 0)")
    f.add_argument("--checkpoint", type=Path, metavar="PATH",
                   help="checkpoint written after every epoch (default CORPUS_DIR/checkpoints/<preset name>.pt)")
    f.add_argument("--resume", action="store_true", help="continue from the checkpoint when it exists")
    f.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: CUDA if present, else CPU")
    f.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    f.add_argument("--plot", type=Path, metavar="PNG", help="also write the training curves here")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    c = sub.add_parser("plot", help="plot training curves from a checkpoint",
                       description="Write generator/critic loss, Wasserstein distance, audit violation, temperature "
                                   "and scale per epoch as a PNG (works on published checkpoints too).")
    c.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="checkpoint written by 'cak train fit'")
    c.add_argument("-o", "--output", type=Path, required=True, metavar="PNG")
    return parser


def _prepare(args: argparse.Namespace) -> int:
    corpus = prepare(args.audio_dir, args.output, labels=args.labels, label_scale=args.label_scale, seed=args.seed,
                     seconds=args.seconds, fade=args.fade, sample_rate=args.sample_rate, description=args.description,
                     progress=not args.quiet)
    meta = corpus.meta
    print(f"{args.output}: {meta['shape'][0]} segments ({meta['skipped']} skipped), labels {meta['label_mode']}, "
          f"global_low {meta['normalization']['global_low']:.6f}, global_high {meta['normalization']['global_high']:.6f}")
    return 0


def _fit(args: argparse.Namespace, argv: list[str]) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = load_corpus(args.corpus)
    name = args.name or args.output.stem
    config = FitConfig(epochs=args.epochs, batch_size=args.batch_size, crop=args.crop, causal=args.causal,
                       seed=args.seed, anneal_epochs=args.anneal_epochs, audit=args.audit)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise FitError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    device = None if args.device == "auto" else torch.device(args.device)
    checkpoint = args.checkpoint or args.corpus / "checkpoints" / f"{name}.pt"
    started = time.perf_counter()
    trainer = fit(corpus, config, checkpoint=checkpoint, resume=args.resume, device=device, progress=not args.quiet)
    seconds = time.perf_counter() - started
    meta = corpus.meta
    provenance = {
        "command": f"{PROG} {shlex.join(argv)}",
        "corpus": {"description": meta.get("description", ""), "sha256": meta.get("sha256", ""),
                   "segments": len(corpus.labels), "segment_seconds": meta.get("segment_seconds"),
                   "source_dir": meta.get("source_dir", "")},
        "label_mode": meta.get("label_mode", ""),
        "epochs": trainer.epoch,
        "final_losses": {k: v[-1] for k, v in trainer.history.items() if v},
        "seed": config.seed,
        "crop": "full" if config.crop is None else f"{config.crop[0]}x{config.crop[1]}",
        "audit": config.audit,
        "batch_size": config.batch_size,
        "causal": config.causal,
        "device": str(trainer.device),
        "torch_threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "code_version": code_version(),
    }
    preset = export_preset(trainer, corpus, name, args.description, provenance)
    preset.save(args.output)
    if args.plot:
        plot_history(trainer.history, args.plot, title=name)
    h = trainer.history
    print(f"{args.output}: {trainer.epoch} epochs in {seconds:.1f} s; G {h['g_loss'][-1]:.4f}, C {h['c_loss'][-1]:.4f}, "
          f"W {h['wasserstein_d'][-1]:.4f}, V {h['violations'][-1]:.4f}, scale {preset.scale:.4f}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    try:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise FitError(f"{args.checkpoint}: no such checkpoint file") from None
    if not isinstance(state, dict) or "history" not in state:
        raise FitError(f"{args.checkpoint}: missing key 'history'")
    print(plot_history(state["history"], args.output, title=args.checkpoint.stem))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cak train``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "prepare":
            return _prepare(args)
        if args.command == "fit":
            return _fit(args, argv)
        return _plot(args)
    except (CorpusError, FitError, PresetError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
