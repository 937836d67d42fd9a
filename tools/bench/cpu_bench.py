"""Single-thread inference cost in CPU time: cleave next to ONNX Runtime.

Wall-clock medians (runtime_bench.py) swing by 2x when other jobs share the
cores; CPU time does not count the time a process waits for a core, so on a
busy machine it still compares the work each runtime does (page faults from
allocation included, as system time).

ONNX Runtime: process CPU time around `--repeats` runs, after two warm-up
runs, best of three rounds. cleave: CPU time of `cleave run --repeat N` as a
child process (user + system), taken at two repeat counts so that start-up and
model loading cancel out. Both use one thread.

Usage: .venv/bin/python tools/bench/cpu_bench.py [--cleave .build/release/cleave]
           [--models vgg19,resnet50,alexnet,squeezenet] [--repeats 8] [--dir .models/light]
"""
import argparse, os, resource, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="vgg19,resnet50,alexnet,squeezenet")
parser.add_argument("--repeats", type=int, default=8)
parser.add_argument("--dir", default=".models/light")
args = parser.parse_args()


def child_cpu(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"cleave failed: {result.stderr.strip()}")
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


print(f"{'model':<12} {'ORT ms':>8} {'cleave ms':>10} {'ratio':>6}   (CPU time per run, 1 thread)")
for name in args.models.split(","):
    path = os.path.join(args.dir, name + ".onnx")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {name}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inputs = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        n = int(np.prod(shape))
        inputs[i.name] = (np.arange(n, dtype=np.float64).reshape(shape) / n).astype(np.float32)
    for _ in range(2):
        session.run(None, inputs)
    rounds = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(args.repeats):
            session.run(None, inputs)
        rounds.append((time.process_time() - start) * 1000 / args.repeats)
    ort_ms = min(rounds)
    del session

    with tempfile.TemporaryDirectory() as tmp:
        command = [args.cleave, "run", path, "--threads", "1", "--output-dir", tmp]
        for input_name, value in inputs.items():
            file = os.path.join(tmp, f"in_{len(command)}.npy")
            np.save(file, value)
            command += ["--input", f"{input_name}={file}"]
        short = min(child_cpu(command + ["--repeat", "2"]) for _ in range(2))
        long = min(child_cpu(command + ["--repeat", str(2 + args.repeats)]) for _ in range(2))
    cleave_ms = (long - short) / args.repeats
    print(f"{name:<12} {ort_ms:>8.1f} {cleave_ms:>10.1f} {cleave_ms / ort_ms:>6.2f}", flush=True)
