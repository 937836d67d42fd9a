"""Adaptive cuts on a changing link: `run --adaptive` against every fixed cut and the oracle.

Usage: .venv/bin/python tools/experiments/adaptive_link.py [--cleave .build/release/cleave]
           [--models alexnet,resnet50,yolov8n,lcnet_orientation] [--phase-seconds 20]
           [--schedule 100Mbps,5Mbps,1Mbps,20Mbps] [--rtt 20ms] [--edge-slowdown 8]
           [--svg tools/experiments/adaptive_link.svg]

For each model: `cleave split MODEL --adaptive --no-compress` writes one pair of
bundles with every cut worth having between 0.5 and 200 Mbps (plus edge-only and
cloud-only); `cleave serve CLOUD --threads 1` serves them on loopback. A link
schedule (one phase per bandwidth, --phase-seconds each, RTT fixed) is emulated
by the client (`--link-schedule`), and the edge is emulated 8x slower than this
machine (`--edge-slowdown`, the built-in edge profile's factor) running 1 thread.
Each contender runs requests back to back for the whole schedule on one real
input: the adaptive runner (`--adaptive`), and every cut alone (`--cut ID`).
The oracle knows the schedule: in each phase it runs the fixed cut that was
fastest in that phase (its mean latency there), with no switching cost.

Reported per contender: requests completed, the mean latency in each phase
(requests that started in it, transitions included), and their mean over the
phases — the time per request of a stream with as many requests in every phase,
so a slow phase counts as much as a fast one. Goals (issue 16): adaptive within
10 % of the oracle and ≥ 30 % below the best fixed cut.

Models: the light models (.models/light, constant weights: timing only, which
is all this measures — nothing is compressed) and trained zoo models
(.models/zoo, run on their first evaluation sample), each if present.
"""
import argparse, json, math, os, socket, subprocess, sys, tempfile

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=os.path.join(root, ".build/release/cleave"))
parser.add_argument("--models", default="alexnet,resnet50,yolov8n,lcnet_orientation")
parser.add_argument("--phase-seconds", type=float, default=20)
parser.add_argument("--schedule", default="100Mbps,5Mbps,1Mbps,20Mbps")
parser.add_argument("--rtt", default="20ms")
parser.add_argument("--edge-slowdown", default="8")
parser.add_argument("--svg", default=os.path.join(root, "tools/experiments/adaptive_link.svg"))
parser.add_argument("--save", help="also write every request of every contender as JSON here")
args = parser.parse_args()
cleave = os.path.abspath(args.cleave)
phases = args.schedule.split(",")
duration = args.phase_seconds * len(phases)


def run(*command, timeout=3600):
    result = subprocess.run([cleave, *command], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit(f"cleave {' '.join(command)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def locate(name, work):
    """The model path, its --input-shape arguments and an input file."""
    light = os.path.join(root, ".models/light", name + ".onnx")
    zoo = os.path.join(root, ".models/zoo", name)
    if os.path.exists(light):
        info = json.loads(run("inspect", light, "--json"))
        spec = info["inputs"][0]
        shape = [d if isinstance(d, int) else 1 for d in spec["shape"]]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        path = os.path.join(work, name + "-input.npy")
        np.save(path, x)
        return light, [], spec["name"], path, "light (constant weights, timing only)"
    if os.path.exists(os.path.join(zoo, "model.onnx")):
        manifest = json.load(open(os.path.join(zoo, "manifest.json")))
        spec = manifest["inputs"][0]
        sample = np.load(os.path.join(zoo, "evaluation.npy"))[:1]
        path = os.path.join(work, name + "-input.npy")
        np.save(path, sample.astype(np.float32) if sample.dtype == np.float64 else sample)
        shape_args = ["--input-shape", spec["name"] + "=" + ",".join(str(d) for d in spec["sample_shape"])]
        return os.path.join(zoo, "model.onnx"), shape_args, spec["name"], path, "trained (zoo)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream(edge, url, extra, input_name, input_path, schedule_path):
    out = run("run", edge, "--remote", url, "--link-schedule", schedule_path, "--edge-slowdown", args.edge_slowdown,
              "--threads", "1", "--remote-timeout", "60s", "--input", f"{input_name}={input_path}", "--json", *extra,
              timeout=int(duration * 4 + 600))
    return json.loads(out)["requests"]


def phase_of(t):
    return min(int(t // args.phase_seconds), len(phases) - 1)


def summary(requests):
    per_phase = [[r["total_ms"] for r in requests if phase_of(r["start_s"]) == p] for p in range(len(phases))]
    means = [sum(v) / len(v) if v else float("inf") for v in per_phase]
    # Each phase weighs the same: the total time of a stream with as many requests in every phase.
    return {"count": len(requests), "mean": sum(means) / len(means), "phases": means}


results = []
with tempfile.TemporaryDirectory() as work:
    schedule_path = os.path.join(work, "schedule")
    with open(schedule_path, "w") as f:
        f.write("# from to bandwidth rtt\n")
        for i, bandwidth in enumerate(phases):
            f.write(f"{i * args.phase_seconds}s {(i + 1) * args.phase_seconds}s {bandwidth} {args.rtt}\n")
    for name in args.models.split(","):
        found = locate(name, work)
        if not found:
            print(f"{name}: not found under .models/light or .models/zoo; skipped", file=sys.stderr)
            continue
        model, shape_args, input_name, input_path, kind = found
        out = os.path.join(work, name)
        run("split", model, "-o", out, "--adaptive", "--no-compress", "--rtt", args.rtt, *shape_args)
        cuts = json.load(open(os.path.join(out, "edge", "manifest.json")))["cuts"]
        port = free_port()
        server = subprocess.Popen([cleave, "serve", os.path.join(out, "cloud"), "--port", str(port), "--threads", "1",
                                   "--log-level", "error"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            server.stdout.readline()  # "serving model ..." once the port is bound
            url = f"http://127.0.0.1:{port}"
            contenders = {"adaptive": stream(os.path.join(out, "edge"), url, ["--adaptive"], input_name, input_path, schedule_path)}
            print(f"{name}: adaptive done ({len(contenders['adaptive'])} requests)", file=sys.stderr)
            for cut in cuts:
                label = f"{cut['id']} {cut['plan']['label']}"
                contenders[label] = stream(os.path.join(out, "edge"), url, ["--cut", cut["id"]], input_name, input_path, schedule_path)
                print(f"{name}: {label} done ({len(contenders[label])} requests)", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=30)
        stats = {label: summary(requests) for label, requests in contenders.items()}
        fixed = {label: s for label, s in stats.items() if label != "adaptive"}
        oracle_phase = [min(s["phases"][p] for s in fixed.values()) for p in range(len(phases))]
        oracle_mean = sum(oracle_phase) / len(oracle_phase)
        best_label = min(fixed, key=lambda l: fixed[l]["mean"])
        results.append({"model": name, "kind": kind, "stats": stats, "oracle": {"mean": oracle_mean, "phases": oracle_phase},
                        "best_fixed": best_label, "requests": contenders})

# Tables.
header = "| contender | requests | mean ms (phases equal) | " + " | ".join(f"{p} ms" for p in phases) + " | vs oracle |"
for r in results:
    print(f"\n### {r['model']} ({r['kind']}), {len(phases)} × {args.phase_seconds:g} s, RTT {args.rtt}, edge {args.edge_slowdown}× slower\n")
    print(header)
    print("|" + " --- |" * 1 + " ---: |" * (3 + len(phases)))
    oracle = r["oracle"]["mean"]
    rows = [("oracle (knows the schedule)", {"count": "-", "mean": oracle, "phases": r["oracle"]["phases"]})] + list(r["stats"].items())
    for label, s in rows:
        marker = " (best fixed)" if label == r["best_fixed"] else ""
        print(f"| {label}{marker} | {s['count']} | {s['mean']:.1f} | " + " | ".join(f"{v:.1f}" for v in s["phases"])
              + f" | {s['mean'] / oracle:.2f}× |")
    adaptive, best = r["stats"]["adaptive"]["mean"], r["stats"][r["best_fixed"]]["mean"]
    print(f"\nadaptive: {adaptive / oracle:.2f}× the oracle (goal ≤ 1.10), {100 * (1 - adaptive / best):.0f}% below the best fixed cut "
          f"{r['best_fixed']} (goal ≥ 30%)")

# SVG: latency per request over time, one panel per model, coloured by the cut that ran.
colors = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]
width, panel, left, top = 860, 190, 70, 50
height = top + panel * len(results) + 30
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       '<rect width="100%" height="100%" fill="white"/>',
       f'<text x="{left}" y="22" font-size="13" font-weight="bold">Latency per request on a changing link '
       f'({", ".join(phases)}, {args.phase_seconds:g} s each, RTT {args.rtt})</text>',
       f'<text x="{left}" y="36" fill="#333">dots: the adaptive runner, coloured by the cut it ran; grey line: the best fixed cut</text>']
plot_width = width - left - 170
for i, r in enumerate(results):
    y0 = top + i * panel + 10
    h = panel - 40
    values = [q["total_ms"] for q in r["requests"]["adaptive"] + r["requests"][r["best_fixed"]]]
    lo, hi = max(1.0, min(values) / 1.5), max(values) * 1.5
    def Y(ms):
        return y0 + h - (math.log(max(ms, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo)) * h
    def X(t):
        return left + t / duration * plot_width
    svg.append(f'<text x="{left}" y="{y0 - 2}" font-weight="bold">{r["model"]}</text>')
    svg.append(f'<rect x="{left}" y="{y0}" width="{plot_width}" height="{h}" fill="none" stroke="#333"/>')
    for p, bandwidth in enumerate(phases):
        x = X(p * args.phase_seconds)
        svg.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#bbb"/>')
        svg.append(f'<text x="{x + 4:.1f}" y="{y0 + 12}" fill="#555">{bandwidth}</text>')
    for tick in [1, 10, 100, 1000, 10000]:
        if lo <= tick <= hi:
            svg.append(f'<text x="{left - 6}" y="{Y(tick) + 4:.1f}" text-anchor="end" fill="#333">{tick} ms</text>')
            svg.append(f'<line x1="{left}" y1="{Y(tick):.1f}" x2="{left + plot_width}" y2="{Y(tick):.1f}" stroke="#eee"/>')
    best = r["requests"][r["best_fixed"]]
    svg.append('<polyline fill="none" stroke="#999" stroke-width="1.5" points="'
               + " ".join(f"{X(q['start_s']):.1f},{Y(q['total_ms']):.1f}" for q in best) + '"/>')
    cut_ids = sorted({q["cut"] for q in r["requests"]["adaptive"]})
    for q in r["requests"]["adaptive"]:
        c = colors[int(q["cut"][1:]) % len(colors)] if q["cut"] and q["cut"][1:].isdigit() else "#000"
        svg.append(f'<circle cx="{X(q["start_s"]):.1f}" cy="{Y(q["total_ms"]):.1f}" r="2.2" fill="{c}"/>')
    labels = {label.split()[0]: label for label in r["stats"] if label != "adaptive"}
    for k, cut in enumerate(sorted(labels)):
        c = colors[int(cut[1:]) % len(colors)]
        svg.append(f'<circle cx="{left + plot_width + 16}" cy="{y0 + 10 + k * 15}" r="4" fill="{c}"/>'
                   f'<text x="{left + plot_width + 24}" y="{y0 + 14 + k * 15}">{labels[cut][:24]}</text>')
svg.append(f'<text x="{left + plot_width / 2}" y="{height - 8}" text-anchor="middle" fill="#333">seconds since the first request</text>')
svg.append("</svg>")
if args.save:
    with open(args.save, "w") as f:
        json.dump(results, f)
if results:
    with open(args.svg, "w") as f:
        f.write("\n".join(svg) + "\n")
    print(f"\nchart: {os.path.relpath(args.svg, root)}")
