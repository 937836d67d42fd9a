"""The paper's comparison, reproduced: five deployment strategies over four links.

Usage: .venv/bin/python tools/experiments/paper_comparison.py [--cleave .build/release/cleave]
           [--models alexnet,vgg19,resnet50,digits] [--slowdown 8] [--repeats 5] [--warmup 3] [--readme README.md]

Edge = this machine at 1 thread, every measured time multiplied by --slowdown
(S, default 8: a small ARM board); cloud = this machine at 2 threads; the link
is emulated: transfer = boundary bytes x 8 / bandwidth + RTT (20 ms), at 1, 5,
20 and 100 Mbps. Strategies:
  edge-only     the original model on the edge
  cloud-only    the input crosses, the original model runs in the cloud
  split         best cut of the uncompressed model (Neurosurgeon-style; `cleave split --no-compress`)
  compress      the compressed model, all on the edge (`cleave compress`)
  cleave        joint compress + split (`cleave split --boundary-codec int8`;
                without the codec for models older than opset 10)
For each: predicted total (from the plan) and measured total (the halves really
run; medians of --repeats after --warmup untimed runs, since a fresh process
takes a few runs to settle), and the fidelity cost (relative L2 of the outputs
and top-1 agreement vs the original; for digits also test accuracy).
Writes a markdown table and an SVG chart into the README's results section
(between <!-- experiments:start --> and <!-- experiments:end -->) and prints them.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="alexnet,vgg19,resnet50,digits")
parser.add_argument("--slowdown", type=float, default=8.0)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--warmup", type=int, default=3)
parser.add_argument("--bandwidths", default="1,5,20,100")
parser.add_argument("--rtt", type=float, default=20.0)
parser.add_argument("--readme", default="README.md")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S, RTT = args.slowdown, args.rtt
bandwidths = [float(b) for b in args.bandwidths.split(",")]
work = tempfile.mkdtemp(prefix="cleave-experiments-")


def cleave(*arguments, check=True):
    result = subprocess.run([args.cleave, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        if not check:
            return None
        sys.exit(f"cleave {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def safe(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def run(target, feeds, threads, out_dir=None):
    """Median ms of `cleave run` on a model or bundle, and its outputs."""
    out_dir = out_dir or tempfile.mkdtemp(dir=work)
    command = ["run", target, "--threads", str(threads), "--repeat", str(args.repeats + args.warmup), "--json", "--output-dir", out_dir]
    for name, path in feeds.items():
        command += ["--input", f"{name}={path}"]
    report = json.loads(cleave(*command))
    runs = report["latency_ms"]["runs"][args.warmup:]
    outputs = {o["name"]: o["file"] for o in report["outputs"]}
    return float(np.median(runs)), outputs


def fidelity(outputs, reference):
    a = np.concatenate([np.load(outputs[k]).ravel() for k in sorted(reference)])
    b = np.concatenate([np.load(reference[k]).ravel() for k in sorted(reference)])
    l2 = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
    first = sorted(reference)[0]
    top1 = float(np.mean(np.argmax(np.load(outputs[first]).reshape(1, -1), 1) == np.argmax(np.load(reference[first]).reshape(1, -1), 1)))
    return l2, top1


def measured_split(out, feeds, bandwidth):
    """Measured total of a written split: edge half × S + transfer + cloud half."""
    edge_ms, edge_out = run(os.path.join(out, "edge"), feeds, 1)
    manifest = json.load(open(os.path.join(out, "edge", "manifest.json")))
    if not os.path.exists(os.path.join(out, "cloud")):
        return S * edge_ms, edge_out, 0
    boundary = {b["name"]: edge_out[b["name"]] for b in manifest["boundary"]}
    sent = sum(os.path.getsize(path) - 128 for path in boundary.values())  # .npy header is 128 bytes
    cloud_ms, cloud_out = run(os.path.join(out, "cloud"), boundary, 2)
    outputs = {**{k: v for k, v in edge_out.items() if k in manifest["final_outputs"]}, **cloud_out}
    return S * edge_ms + sent * 8 / (bandwidth * 1e6) * 1000 + RTT + cloud_ms, outputs, sent


rows = []
try:
    for model_name in args.models.split(","):
        if model_name == "digits":
            path = os.path.join(root, "fixtures", "digits", "model.onnx")
            feeds = {"image": os.path.join(root, "fixtures", "digits", "inputs", "image.npy")}
            calibration = ["--calibration", "image=" + os.path.join(root, "fixtures", "digits", "calibration.npy")]
        else:
            path = os.path.join(root, ".models", "light", model_name + ".onnx")
            if not os.path.exists(path):
                sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {model_name}")
            inputs = json.loads(cleave("inspect", path, "--json"))["inputs"]
            feeds = {inputs[0]["name"]: os.path.join(root, ".models", "light", model_name, "input_0.npy")}
            calibration = []
        input_bytes = sum(np.load(p).nbytes for p in feeds.values())
        print(f"{model_name}: measuring", file=sys.stderr)
        edge_ms, reference = run(path, feeds, 1)
        cloud_ms, _ = run(path, feeds, 2)
        compressed = os.path.join(work, model_name + "-compressed.onnx")
        report = json.loads(cleave("compress", path, "-o", compressed, "--rank-energy", "0.98", "--json", *calibration))
        comp_ms, comp_out = run(compressed, feeds, 1)
        comp_l2, comp_top1 = fidelity(comp_out, reference)
        for bw in bandwidths:
            common = ["--bandwidth", f"{bw}Mbps", "--rtt", f"{RTT}ms", "--json", "--force"]
            ns_dir = os.path.join(work, f"{model_name}-ns-{bw}")
            ns = json.loads(cleave("split", path, "-o", ns_dir, "--no-compress", *common))
            joint_dir = os.path.join(work, f"{model_name}-joint-{bw}")
            # The int8 codec needs QuantizeLinear (opset >= 10); older models cross raw.
            joint_text = cleave("split", path, "-o", joint_dir, "--rank-energy", "0.98", "--boundary-codec", "int8", *common, *calibration, check=False) \
                or cleave("split", path, "-o", joint_dir, "--rank-energy", "0.98", *common, *calibration)
            joint = json.loads(joint_text)

            def candidate(plan, label):
                return next((c["total_ms"] for c in plan["plan"]["candidates"] if c["label"] == label), float("nan"))

            ns_measured, ns_out, ns_sent = measured_split(ns_dir, feeds, bw)
            joint_measured, joint_out, joint_sent = measured_split(joint_dir, feeds, bw)
            transfer_in = input_bytes * 8 / (bw * 1e6) * 1000 + RTT
            strategies = [
                ("edge-only", candidate(ns, "edge-only"), S * edge_ms, (0.0, 1.0)),
                ("cloud-only", candidate(ns, "cloud-only"), transfer_in + cloud_ms, (0.0, 1.0)),
                ("split", ns["plan"]["best"]["total_ms"] if "best" in ns["plan"] else float("nan"), ns_measured, fidelity(ns_out, reference)),
                ("compress", candidate(joint, "edge-only"), S * comp_ms, (comp_l2, comp_top1)),
                ("cleave", joint["plan"]["best"]["total_ms"] if "best" in joint["plan"] else float("nan"), joint_measured, fidelity(joint_out, reference)),
            ]
            best_baseline = min(m for name, _, m, _ in strategies if name != "cleave")
            for name, predicted, measured, (l2, top1) in strategies:
                rows.append((model_name, bw, name, predicted, measured, l2, top1, best_baseline))
            print(f"  {bw:g} Mbps: " + ", ".join(f"{n} {m:.1f} ms" for n, _, m, _ in strategies), file=sys.stderr)
finally:
    shutil.rmtree(work, ignore_errors=True)

# Table.
lines = [f"Edge = this machine, 1 thread, times × {S:g}; cloud = this machine, 2 threads; RTT {RTT:g} ms; "
         "measured = the halves really run (medians), the link emulated. Fidelity vs the original model's outputs.", "",
         "| model | Mbps | strategy | predicted ms | measured ms | vs best baseline | rel. L2 | top-1 agree |",
         "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
for model_name, bw, name, predicted, measured, l2, top1, best in rows:
    change = f"{(measured / best - 1) * 100:+.0f}%" if name == "cleave" else ""
    lines.append(f"| {model_name} | {bw:g} | {name} | {predicted:.1f} | {measured:.1f} | {change} | {l2 * 100:.2f}% | {top1 * 100:.0f}% |")
table = "\n".join(lines)

# Chart: one group per (model, bandwidth), one bar per strategy (measured), log-free linear per model.
colors = {"edge-only": "#4e79a7", "cloud-only": "#f28e2b", "split": "#59a14f", "compress": "#b07aa1", "cleave": "#e15759"}
groups = sorted({(m, bw) for m, bw, *_ in rows}, key=lambda g: (args.models.split(",").index(g[0]), g[1]))
bar, gap, height, top = 10, 14, 160, 30
width = len(groups) * (5 * bar + gap) + 80
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 90}" font-family="sans-serif" font-size="10">',
       f'<text x="10" y="16" font-size="12">Measured end-to-end latency per strategy (each model scaled to its slowest bar)</text>']
x = 60
for model_name, bw in groups:
    group = [r for r in rows if r[0] == model_name and r[1] == bw]
    scale = max(r[4] for r in rows if r[0] == model_name)
    for i, r in enumerate(group):
        h = height * r[4] / scale
        svg.append(f'<rect x="{x + i * bar}" y="{top + height - h:.1f}" width="{bar - 1}" height="{h:.1f}" fill="{colors[r[2]]}"><title>{model_name} {bw:g} Mbps {r[2]}: {r[4]:.1f} ms</title></rect>')
    svg.append(f'<text x="{x}" y="{top + height + 12}">{bw:g}M</text>')
    if bw == bandwidths[0]:
        svg.append(f'<text x="{x}" y="{top + height + 26}" font-weight="bold">{model_name}</text>')
    x += 5 * bar + gap
for i, (name, color) in enumerate(colors.items()):
    svg.append(f'<rect x="{60 + i * 90}" y="{top + height + 40}" width="10" height="10" fill="{color}"/><text x="{74 + i * 90}" y="{top + height + 49}">{name}</text>')
svg.append("</svg>")
chart_path = os.path.join(root, "tools", "experiments", "paper_comparison.svg")
open(chart_path, "w").write("\n".join(svg) + "\n")

print(table)
readme = os.path.join(root, args.readme)
text = open(readme).read()
start, end = "<!-- experiments:start -->", "<!-- experiments:end -->"
if start in text and end in text:
    block = f"{start}\n{table}\n\n![latency per strategy](tools/experiments/paper_comparison.svg)\n\nProduced by `.venv/bin/python tools/experiments/paper_comparison.py`.\n{end}"
    text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    open(readme, "w").write(text)
    print(f"updated {args.readme}", file=sys.stderr)
