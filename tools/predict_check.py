#!/usr/bin/env python3
"""Predicted vs measured whole-model latency, per model, at 1 and 2 threads.

For every fixture and each light model present in .models/light, it takes
  predicted: `cleave plan MODEL --edge P1 --cloud P2 --json` -> edge.total_ms
             (profile P1, 1 thread) and cloud.total_ms (profile P2, 2 threads)
  measured:  `cleave run MODEL --input ... --repeat 5 --threads T` -> the
             median latency it prints, the lowest of --rounds such runs (5,
             taken in turn over all models: on a shared machine another
             tenant's burst can last minutes); 100
             runs for models under 1 ms (the first few runs of a fresh process
             are warm-up and would be the median of 5) (`--json` would add the cost of recording
             per-node timings, which matters for 30 µs fixtures; --per-kind runs
             it separately for the per-node times)
and prints both with the relative error, the MAPE per thread count, and
(--per-kind) where the error comes from: per op kind, the summed predicted
node time next to the summed measured kernel time of `cleave run --json`.

Profiles: --p1/--p2 paths, or measured fresh (`cleave profile`, full sweep)
into a temporary folder. The machine should be idle: check `uptime` first.

Usage:
  tools/predict_check.py [--cleave .build/release/cleave] [--p1 P1.json --p2 P2.json]
                         [--models DIR] [--only NAME,...] [--per-kind] [--json OUT]
Standard library only.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 0.15


def cleave(binary, *args):
    result = subprocess.run([binary, *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"cleave {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def cpu_milliseconds(binary, model, feeds, repeat):
    """Mean CPU time of one 1-thread run: the CPU time of `--repeat 1 + N` minus that of `--repeat 1`."""
    def spent(count):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cleave(binary, "run", model, *feeds, "--repeat", str(count), "--threads", "1")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (spent(1 + repeat) - spent(1)) / repeat * 1000


def models(light_dir, only):
    found = []
    fixtures = os.path.join(ROOT, "fixtures")
    for name in sorted(os.listdir(fixtures)):
        spec_path = os.path.join(fixtures, name, "fixture.json")
        if not os.path.exists(spec_path):
            continue
        with open(spec_path) as f:
            spec = json.load(f)
        inputs = [(i["name"], os.path.join(fixtures, name, i["file"])) for i in spec["inputs"]]
        shapes = [argument for entry in spec.get("input_shape_args", []) for argument in ("--input-shape", entry)]
        found.append((name, os.path.join(fixtures, name, "model.onnx"), inputs, shapes))
    if os.path.isdir(light_dir):
        for entry in sorted(os.listdir(light_dir)):
            if not entry.endswith(".onnx"):
                continue
            name = entry[:-5]
            data = os.path.join(light_dir, name, "input_0.npy")
            if os.path.exists(data):
                found.append((name, os.path.join(light_dir, entry), [(None, data)], []))
    if only:
        wanted = set(only.split(","))
        found = [m for m in found if m[0] in wanted]
    return found


def input_arguments(binary, model, inputs):
    """Light models store one unnamed input file: name it after the model's first runtime input."""
    arguments = []
    for name, path in inputs:
        if name is None:
            report = json.loads(cleave(binary, "inspect", model, "--json"))
            name = report["inputs"][0]["name"]
        arguments += ["--input", f"{name}={path}"]
    return arguments


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cleave", default=os.path.join(ROOT, ".build/release/cleave"))
    parser.add_argument("--p1", help="profile measured at 1 thread (default: measure one)")
    parser.add_argument("--p2", help="profile measured at 2 threads (default: measure one)")
    parser.add_argument("--models", default=os.path.join(ROOT, ".models/light"))
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5,
                        help="measure each median this many times (separate processes, in turn over all models) "
                             "and keep the lowest")
    parser.add_argument("--fast-repeat", type=int, default=100,
                        help="runs for models under 1 ms, whose first runs in a fresh process are warm-up")
    parser.add_argument("--per-kind", action="store_true", help="break the error down by op kind")
    parser.add_argument("--cpu", action="store_true",
                        help="at 1 thread, for models of 20 ms or more, measure CPU time per run instead of the "
                             "wall-time median: blind to other processes on a busy machine (equal to wall time "
                             "on an idle one)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    args = parser.parse_args()

    temporary = tempfile.mkdtemp(prefix="cleave-predict-")
    p1, p2 = args.p1, args.p2
    for threads, given in ((1, p1), (2, p2)):
        if given is None:
            path = os.path.join(temporary, f"p{threads}.json")
            print(f"measuring a profile at {threads} thread(s) ...", file=sys.stderr)
            cleave(args.cleave, "profile", "--threads", str(threads), "-o", path)
            if threads == 1:
                p1 = path
            else:
                p2 = path

    rows = []
    kinds = {1: {}, 2: {}}
    found = models(args.models, args.only)
    feeds = {name: input_arguments(args.cleave, model, inputs) for name, model, inputs, _ in found}

    def latency(model, name, threads, repeat):
        # A plain run: `--json` records per-node timings (a clock read and a name
        # per node, a few µs in all), which a 30 µs fixture would feel.
        text = cleave(args.cleave, "run", model, *feeds[name], "--repeat", str(repeat), "--threads", str(threads))
        return float(text.strip().splitlines()[-1].split("latency: ")[1].split(" ms")[0])

    # The lowest of --rounds medians per model and thread count, the rounds
    # taken in turn over all models: on a shared machine another tenant's
    # burst can last minutes, and would otherwise fall on every round of one model.
    best = {}
    for number in range(args.rounds):
        print(f"measuring, round {number + 1} of {args.rounds} ...", file=sys.stderr)
        for name, model, _, _ in found:
            for threads in (1, 2):
                key = (name, threads)
                repeat = args.repeat
                if best.get(key, float("inf")) < 1:
                    # A fresh process needs a few runs to warm up (caches, branch predictors,
                    # malloc); for a sub-millisecond model they would be the median of 5.
                    repeat = args.fast_repeat
                measured = latency(model, name, threads, repeat)
                if key not in best and measured < 1:
                    measured = latency(model, name, threads, args.fast_repeat)
                best[key] = min(best.get(key, float("inf")), measured)

    for name, model, inputs, shape_args in found:
        plan = json.loads(cleave(args.cleave, "plan", model, "--edge", p1, "--cloud", p2,
                                 "--bandwidth", "1Gbps", "--json", *shape_args))
        row = {"model": name}
        for threads, side in ((1, "edge"), (2, "cloud")):
            measured = best[(name, threads)]
            if args.cpu and threads == 1 and measured >= 20:
                # Enough runs that the two processes' start-up costs, which differ, average out.
                measured = cpu_milliseconds(args.cleave, model, feeds[name], max(args.repeat, int(2000 / measured) + 1))
            predicted = plan[side]["total_ms"]
            run = json.loads(cleave(args.cleave, "run", model, *feeds[name], "--repeat", "2",
                                    "--threads", str(threads), "--json")) if args.per_kind else {"nodes": []}
            row[f"predicted_{threads}"] = predicted
            row[f"measured_{threads}"] = measured
            row[f"error_{threads}"] = (predicted - measured) / measured
            timed = {node["name"]: node["ms"] for node in run["nodes"]}
            for node in plan["nodes"]:
                kind = node["kind"] or "other"
                entry = kinds[threads].setdefault(kind, [0.0, 0.0])
                entry[0] += node[f"{side}_ms"]
                entry[1] += timed.get(node["name"], 0.0)
        rows.append(row)
        print(f"{name:16s} 1t {row['predicted_1']:10.3f} vs {row['measured_1']:10.3f} ms ({row['error_1']*100:+6.1f}%)   "
              f"2t {row['predicted_2']:10.3f} vs {row['measured_2']:10.3f} ms ({row['error_2']*100:+6.1f}%)", file=sys.stderr)

    print()
    if args.cpu:
        print("1-thread measurements are CPU time per run (--cpu)")
    print(f"{'model':16s} {'pred 1t ms':>11s} {'meas 1t ms':>11s} {'err':>7s}   {'pred 2t ms':>11s} {'meas 2t ms':>11s} {'err':>7s}")
    for row in rows:
        flag = lambda e: "!" if abs(e) > LIMIT else " "
        print(f"{row['model']:16s} {row['predicted_1']:11.3f} {row['measured_1']:11.3f} {row['error_1']*100:+6.1f}%{flag(row['error_1'])}"
              f"  {row['predicted_2']:11.3f} {row['measured_2']:11.3f} {row['error_2']*100:+6.1f}%{flag(row['error_2'])}")
    summary = {}
    for threads in (1, 2):
        errors = [abs(r[f"error_{threads}"]) for r in rows]
        summary[threads] = {
            "mape": sum(errors) / max(1, len(errors)),
            "max": max(errors, default=0.0),
            "within": sum(e <= LIMIT for e in errors),
        }
    print()
    for threads in (1, 2):
        s = summary[threads]
        print(f"{threads} thread(s): MAPE {s['mape']*100:.1f}%, worst {s['max']*100:.1f}%, "
              f"{s['within']}/{len(rows)} models within {LIMIT*100:.0f}%")
    if args.per_kind:
        for threads in (1, 2):
            print(f"\nper op kind, {threads} thread(s): predicted node time vs measured kernel time (summed over all models)")
            for kind, (predicted, measured) in sorted(kinds[threads].items(), key=lambda kv: -kv[1][1]):
                ratio = predicted / measured if measured > 0 else float("inf")
                print(f"  {kind:16s} {predicted:12.3f} {measured:12.3f}  x{ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"profiles": {"1": p1, "2": p2}, "models": rows,
                       "summary": {str(k): v for k, v in summary.items()}}, f, indent=2)
    failed = sum(abs(r[f"error_{t}"]) > LIMIT for r in rows for t in (1, 2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
