"""Beyond protobuf's 2 GB limit: inspect, cut and verify a model with > 2 GB of external weights.

Usage: .venv/bin/python tools/big_model_check.py CLEAVE_BINARY [--gigabytes 2.2] [--keep]
Generates the model with tools/big_model.py into a temporary folder, runs
`cleave inspect`, `cleave cut` (middle of the network) and `cleave verify` on
both halves, checks that neither half's model.onnx approaches 2 GB and that
peak RSS stays within 1.2x the model's size, then removes everything.
Prints 'N passed, N failed'.
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("cleave")
parser.add_argument("--gigabytes", type=float, default=2.2)
parser.add_argument("--keep", action="store_true")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
work = tempfile.mkdtemp(prefix="cleave-big-", dir=os.path.join(root, ".models") if os.path.isdir(os.path.join(root, ".models")) else None)
passed = failed = 0


def check(name, ok, detail):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")


def rss_run(command):
    """Runs `command`, returning (exit code, seconds, peak RSS bytes, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode()
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss * 1024, err


try:
    subprocess.run([sys.executable, os.path.join(root, "tools", "big_model.py"), work, "--gigabytes", str(args.gigabytes)], check=True)
    model = os.path.join(work, "model.onnx")
    size = os.path.getsize(model) + os.path.getsize(os.path.join(work, "weights.bin"))
    code, seconds, rss, err = rss_run([args.cleave, "inspect", model])
    check("inspect", code == 0 and rss <= 1.2 * size, f"exit {code}, {seconds:.2f} s, peak RSS {rss / 1e9:.2f} GB for {size / 1e9:.2f} GB {err.strip()}")
    out = os.path.join(work, "out")
    code, seconds, rss, err = rss_run([args.cleave, "cut", model, "--at", "fc0", "-o", out])
    check("cut", code == 0 and rss <= 1.2 * size, f"exit {code}, {seconds:.2f} s, peak RSS {rss / 1e9:.2f} GB ({rss / size:.2f}x) {err.strip()}")
    if code == 0:
        largest = max(os.path.getsize(os.path.join(out, s, "model.onnx")) for s in ("edge", "cloud"))
        check("halves stay small", largest < 1e6, f"largest model.onnx {largest} bytes; weights stay in weights.bin")
        code, seconds, rss, err = rss_run([args.cleave, "verify", os.path.join(out, "edge"), os.path.join(out, "cloud")])
        check("verify", code == 0 and rss <= 1.2 * size, f"exit {code}, {seconds:.2f} s, peak RSS {rss / 1e9:.2f} GB {err.strip()}")
finally:
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
print(f"big model: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
