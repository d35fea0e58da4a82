"""Command-line parsing only: each subcommand hands typed arguments to the module that does the work."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.errors import ConfigError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safety-monitor", description="Watch a deployed LLM for safety regressions."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="proxy an OpenAI-compatible model server and monitor it")
    serve.add_argument("--upstream", help="model server base URL (upstream.url)")
    serve.add_argument("--host", help="proxy listen address")
    serve.add_argument("--port", type=int, help="proxy listen port")
    serve.add_argument("--admin-host", help="admin (metrics, health) listen address")
    serve.add_argument("--admin-port", type=int, help="admin listen port; 0 picks a free port")
    serve.add_argument("--config", type=Path, help="YAML settings file")
    serve.add_argument("--sample-rate", type=float, help="fraction of exchanges to score (sampling.rate)")
    serve.add_argument("--sample-log", type=Path, help="JSONL log of sampled exchanges (sample_log.path)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log.level")

    score = commands.add_parser("score", help="score JSONL records {prompt, response} with the classifiers")
    score.add_argument("input", nargs="?", default="-", help="JSONL file, or - for standard input")
    score.add_argument("-o", "--output", default="-", help="output JSONL file (default: standard output)")
    score.add_argument(
        "--on-error", choices=["fail", "skip"], default="fail", help="what a malformed line does"
    )

    train = commands.add_parser(
        "train", help="rebuild the classifiers and their model card from the shared data"
    )
    train.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    train.add_argument("--out", type=Path, default=Path("monitor/models"), help="where models and card go")

    demo = commands.add_parser("demo", help="run a fake model server, the proxy and a traffic generator")
    demo.add_argument("--port", type=int, default=8080, help="proxy port (0 picks a free port)")
    demo.add_argument("--admin-port", type=int, default=9464, help="admin port (0 picks a free port)")
    demo.add_argument("--rate", type=float, default=5.0, help="requests per second to generate")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument(
        "--regress-after", type=float, default=None, help="make the fake model regress after N s"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``safety-monitor`` console script."""
    args = _parser().parse_args(argv)
    try:
        return {"serve": _serve, "score": _score, "train": _train, "demo": _demo}[args.command](args)
    except ConfigError as exc:
        print(f"safety-monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from monitor.app import serve  # noqa: PLC0415 - keep --help fast
    from monitor.export.logs import configure_logging  # noqa: PLC0415
    from monitor.settings import load_settings  # noqa: PLC0415

    overrides = {
        "upstream.url": args.upstream,
        "host": args.host,
        "port": args.port,
        "admin_host": args.admin_host,
        "admin_port": args.admin_port,
        "sampling.rate": args.sample_rate,
        "sample_log.path": str(args.sample_log) if args.sample_log else None,
        "log.level": args.log_level,
    }
    settings = load_settings(args.config, overrides=overrides)
    configure_logging(settings.log.level, settings.log.format, settings.capture_text)
    asyncio.run(serve(settings))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from monitor.demo import run_demo  # noqa: PLC0415

    asyncio.run(run_demo(args.port, args.admin_port, args.rate, args.duration, args.regress_after))
    return 0


def _score(args: argparse.Namespace) -> int:
    from monitor.export.logs import configure_logging  # noqa: PLC0415
    from monitor.scoring.files import InputLineError, score_lines  # noqa: PLC0415
    from monitor.scoring.scorer import Scorer  # noqa: PLC0415

    configure_logging("warning")
    source = sys.stdin if args.input == "-" else Path(args.input).open(encoding="utf-8")  # noqa: SIM115
    target = sys.stdout if args.output == "-" else Path(args.output).open("w", encoding="utf-8")  # noqa: SIM115
    size = None if args.input == "-" else Path(args.input).stat().st_size
    try:
        report = score_lines(source, target, Scorer(), args.on_error, size)
    except InputLineError as exc:
        print(f"safety-monitor score: {exc} (use --on-error skip to go on)", file=sys.stderr)
        return 1
    finally:
        for stream in (source, target):
            if stream not in (sys.stdin, sys.stdout):
                stream.close()
    print(f"scored {report.written} records, skipped {report.skipped} lines", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    from monitor.training.train import train  # noqa: PLC0415

    if not args.data.is_dir():
        print(f"safety-monitor train: --data {args.data} is not a folder", file=sys.stderr)
        return 2
    train(args.data, args.out, log=lambda message: print(message, file=sys.stderr))
    return 0
