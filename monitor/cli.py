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

    tap = commands.add_parser(
        "tap", help="consume inference logs or scored events from Kafka and monitor them"
    )
    tap.add_argument("--bootstrap", help="brokers, HOST:PORT[,HOST:PORT] (kafka.bootstrap)")
    tap.add_argument("--topic", action="append", help="topic to consume; repeat for more (kafka.tap.topics)")
    tap.add_argument("--group", help="consumer group (kafka.tap.group)")
    tap.add_argument("--config", type=Path, help="YAML settings file")
    tap.add_argument("--admin-host", help="admin (metrics, health) listen address")
    tap.add_argument("--admin-port", type=int, help="admin listen port; 0 picks a free port")
    tap.add_argument("--api-version", help="broker API version, e.g. 0.9 (default: auto)")
    tap.add_argument("--state-dir", type=Path, help="shared folder of per-partition checkpoints")
    tap.add_argument("--dead-letter-topic", help="where poison records go (kafka.tap.dead_letter_topic)")
    tap.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log.level")

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
    train.add_argument(
        "--only",
        type=lambda value: [v.strip() for v in value.split(",") if v.strip()],
        default=None,
        help="rebuild only these card sections (refusal, toxicity, harm_category, incoherence), "
        "comma-separated; the others keep the committed card",
    )
    train.add_argument(
        "--rules-only",
        action="store_true",
        help="the same as --only incoherence: re-measure the degeneracy rules; models untouched",
    )

    demo = commands.add_parser("demo", help="run a fake model server, the proxy and a traffic generator")
    demo.add_argument("--port", type=int, default=8080, help="proxy port (0 picks a free port)")
    demo.add_argument("--admin-port", type=int, default=9464, help="admin port (0 picks a free port)")
    demo.add_argument("--rate", type=float, default=5.0, help="requests per second to generate")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument(
        "--regress-after", type=float, default=None, help="make the fake model regress after N s"
    )
    _gate_parser(commands)
    _replay_parser(commands)
    return parser


def _gate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gate = commands.add_parser(
        "gate", help="compare a fine-tune against its base on a safety suite; deploy/block decision"
    )
    gate.add_argument("--base", required=True, help="base model's OpenAI-compatible URL")
    gate.add_argument("--base-model", default="base", help="model name sent to the base endpoint")
    gate.add_argument("--candidate", required=True, help="candidate (fine-tune) URL")
    gate.add_argument("--candidate-model", default="candidate", help="model name sent to the candidate")
    gate.add_argument("--suite", type=Path, help="suite file (JSONL/CSV/JSON); default: the sanity suite")
    gate.add_argument("--suite-format", help="column mapping: harmbench, advbench, xstest, … (default: ours)")
    gate.add_argument("--samples", type=int, default=1, help="answers per prompt (K), for consistency")
    gate.add_argument("--out", type=Path, default=Path("gate-report"), help="report, answers and baseline")
    gate.add_argument("--variants", default="", help="comma list: base64,rot13,roleplay,system-prompt")
    gate.add_argument("--capability", type=Path, help="JSONL {id, prompt, answer}: exact-match accuracy")
    gate.add_argument("--concurrency", type=int, default=8, help="requests in flight per run")
    gate.add_argument("--rate", type=float, help="most requests per second (default: unlimited)")
    gate.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    gate.add_argument("--retries", type=int, default=4, help="retries per request, with backoff")
    gate.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (both sides)")
    gate.add_argument("--max-tokens", type=int, default=512, help="max_tokens (both sides)")
    gate.add_argument("--alpha", type=float, default=0.01, help="significance level of the one-sided tests")
    gate.add_argument("--power", type=float, default=0.8, help="power for the sizing printed before the run")
    gate.add_argument("--weights", default="", help="composite weights, e.g. self_harm=3,privacy=1")
    gate.add_argument("--baseline-model", default="*", help="model name in baseline.json (* matches any)")
    gate.add_argument("--capture-text", action="store_true", help="name changed prompts by text, not digest")
    gate.add_argument(
        "--fail-on", choices=["enhanced", "review", "block"], default="block", help="verdict that exits 1"
    )
    gate.add_argument("--api-key", help="bearer token for both endpoints (or OPENAI_API_KEY)")
    gate.add_argument("--no-progress", action="store_true", help="no progress bar")


def _replay_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay", help="backtest the detectors on a recorded sample log: alarm table, plots, index.html"
    )
    replay.add_argument(
        "log", type=Path, help="the sidecar's sample log, or JSONL {prompt, response, model, timestamp}"
    )
    replay.add_argument("--baseline", type=Path, help="baseline file (detection.baseline_file)")
    replay.add_argument("--out", type=Path, help="folder for per-stream PNGs, alarms.json and index.html")
    replay.add_argument("--config", type=Path, help="YAML settings file, as serve reads it")
    replay.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. detection.arl0=1e4 (repeatable)")  # fmt: skip
    replay.add_argument(
        "--skip-bad-lines", action="store_true", help="skip unusable lines instead of stopping"
    )
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``safety-monitor`` console script."""
    args = _parser().parse_args(argv)
    try:
        commands = {
            "serve": _serve,
            "tap": _tap,
            "score": _score,
            "train": _train,
            "demo": _demo,
            "gate": _gate,
            "replay": _replay,
        }
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"safety-monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from monitor.app import serve  # noqa: PLC0415 - keep --help fast
    from monitor.eventloop import run  # noqa: PLC0415
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
    run(serve(settings))
    return 0


def _tap(args: argparse.Namespace) -> int:
    from monitor.app import serve  # noqa: PLC0415 - keep --help fast
    from monitor.eventloop import run  # noqa: PLC0415
    from monitor.export.logs import configure_logging  # noqa: PLC0415
    from monitor.settings import load_settings  # noqa: PLC0415

    overrides = {
        "mode": "tap",
        "kafka.bootstrap": args.bootstrap.split(",") if args.bootstrap else None,
        "kafka.tap.topics": args.topic,
        "kafka.tap.group": args.group,
        "admin_host": args.admin_host,
        "admin_port": args.admin_port,
        "kafka.api_version": args.api_version,
        "kafka.tap.state_dir": str(args.state_dir) if args.state_dir else None,
        "kafka.tap.dead_letter_topic": args.dead_letter_topic,
        "log.level": args.log_level,
    }
    settings = load_settings(args.config, overrides=overrides)
    configure_logging(settings.log.level, settings.log.format, settings.capture_text)
    run(serve(settings))
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
    from monitor.training.train import TASKS, train  # noqa: PLC0415

    if not args.data.is_dir():
        print(f"safety-monitor train: --data {args.data} is not a folder", file=sys.stderr)
        return 2
    only = ["incoherence"] if args.rules_only else args.only
    if only is not None and not set(only) <= set(TASKS):
        print(f"safety-monitor train: --only takes {', '.join(TASKS)}", file=sys.stderr)
        return 2
    train(args.data, args.out, only, log=lambda message: print(message, file=sys.stderr))
    return 0


def _gate(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415

    from monitor.gate import (  # noqa: PLC0415 - keep --help fast
        SANITY_SUITE,
        VARIANTS,
        Endpoint,
        GateOptions,
        RunSettings,
        exit_code,
        run_gate,
    )

    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or args.samples < 1:
        problem = f"unknown variants {unknown}" if unknown else "--samples must be at least 1"
        print(f"safety-monitor gate: {problem}", file=sys.stderr)
        return 2
    key = args.api_key or os.environ.get("OPENAI_API_KEY")
    weights = {k: float(v) for k, v in (p.split("=", 1) for p in args.weights.split(",") if p)}
    options = GateOptions(
        base=Endpoint("base", args.base, args.base_model, key),
        candidate=Endpoint("candidate", args.candidate, args.candidate_model, key),
        out=args.out,
        suite=args.suite or SANITY_SUITE,
        suite_format=args.suite_format,
        run=RunSettings(
            samples=args.samples,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            concurrency=args.concurrency,
            retries=args.retries,
            timeout_seconds=args.timeout,
            rate_per_second=args.rate,
            progress=not args.no_progress,
        ),
        variants=variants,
        capability=args.capability,
        alpha=args.alpha,
        power=args.power,
        weights=weights,
        baseline_model=args.baseline_model,
        capture_text=args.capture_text,
    )
    return exit_code(asyncio.run(run_gate(options)), args.fail_on)


def _replay(args: argparse.Namespace) -> int:
    from monitor.export.logs import configure_logging  # noqa: PLC0415 - keep --help fast
    from monitor.replay import RecordError, ReplayOptions, parse_sets, run_replay  # noqa: PLC0415

    configure_logging("error")  # the table is the output; alarm log lines would bury it
    options = ReplayOptions(args.log, args.out, args.baseline, args.config, parse_sets(args.set),
                            progress=not args.no_progress, skip_bad=args.skip_bad_lines)  # fmt: skip
    try:
        run_replay(options)
    except RecordError as exc:
        print(f"safety-monitor replay: {exc} (use --skip-bad-lines to go on)", file=sys.stderr)
        return 1
    return 0
