"""Soak test of `cleave serve`: 64 concurrent clients x 200 requests, zero errors, flat memory.

Usage: .venv/bin/python tools/soak.py CLEAVE_BINARY [--clients 64] [--requests 200] [--threads 2]

Cuts SqueezeNet (.models/light/squeezenet.onnx, generated with
tools/light_models.py --only squeezenet when missing) in the middle of its
node list, runs the edge half once to get the boundary tensors, and starts
`cleave serve` on the cloud half on a free loopback port. Each client keeps
one HTTP/1.1 connection and sends binary KServe v2 requests; every response
must be 200 with the output of `cleave run EDGE CLOUD`, bit for bit.

Memory: the server's VmRSS (/proc/PID/status) is read after a warm-up at full
concurrency (clients x 5 requests) and after the soak, each time once the
server has been idle for a second (it returns freed heap pages to the OS after
0.2 s without work, so idle RSS is live memory, not allocator slack); the
second must be within 10% of the first. Then graceful shutdown: 8 requests are put in flight
on open connections and SIGTERM is sent; all 8 must complete with 200 and the
server must exit 0. Traffic goes to 127.0.0.1 only; request counts are bounded.
Prints 'N passed, N failed' and exits non-zero on a failure.
"""
import argparse, http.client, json, os, re, shutil, signal, subprocess, sys, tempfile, threading, time

import numpy as np
import onnx

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("cleave")
parser.add_argument("--clients", type=int, default=64)
parser.add_argument("--requests", type=int, default=200, help="requests per client")
parser.add_argument("--threads", type=int, default=2, help="the server's worker sessions")
parser.add_argument("--models", default=os.path.join(root, ".models", "light"))
args = parser.parse_args()
cleave = os.path.abspath(args.cleave)
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""), flush=True)


def run(*command):
    result = subprocess.run([cleave, *command], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"cleave {' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def middle_tensor(path):
    """The output of the node halfway through the node list (as tools/bundle_check.py picks cuts)."""
    model = onnx.load(path, load_external_data=False)
    outputs = {o.name for o in model.graph.output}
    nodes = [n for n in model.graph.node if n.op_type not in ("Constant", "Shape")]
    candidates = [t for n in nodes[:-1] for t in n.output if t and t not in outputs]
    return candidates[len(candidates) // 2]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    """One keep-alive connection sending one fixed binary inference request."""

    def __init__(self, port, name, body, header_length):
        self.path = f"/v2/models/{name}/infer"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.body = body
        self.headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(header_length)}

    def send(self):
        self.connection.request("POST", self.path, body=self.body, headers=self.headers)

    def receive(self):
        response = self.connection.getresponse()
        data = response.read()
        length = response.getheader("Inference-Header-Content-Length")
        if response.status != 200 or length is None:
            return response.status, data[:300]
        return 200, data[int(length):]

    def infer(self):
        self.send()
        return self.receive()


def hammer(clients, count, expected):
    """Every client sends `count` requests; returns (errors, seconds)."""
    errors = []
    lock = threading.Lock()

    def work(client):
        for _ in range(count):
            try:
                status, output = client.infer()
                if status != 200 or output != expected:
                    with lock:
                        errors.append(f"HTTP {status}: {output[:120]!r}")
            except Exception as error:  # a dropped connection is an error of the soak, not of this script
                with lock:
                    errors.append(repr(error))
                return
    start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, time.perf_counter() - start


def main():
    model = os.path.join(args.models, "squeezenet.onnx")
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(root, "tools", "light_models.py"), "--only", "squeezenet", "--out", args.models], check=True)
    work = tempfile.mkdtemp(prefix="cleave-soak-")
    process = None
    try:
        pair = os.path.join(work, "pair")
        run("cut", model, "--at", middle_tensor(model), "-o", pair)
        edge, cloud = os.path.join(pair, "edge"), os.path.join(pair, "cloud")
        image = "data_0=" + os.path.join(args.models, "squeezenet", "input_0.npy")
        # One kernel thread, as each of the server's sessions: the light model's constant weights make its
        # logits ~1e10, so the order in which two threads split a product shows in the last bits.
        report = json.loads(run("run", edge, "--input", image, "--threads", "1", "--output-dir", os.path.join(work, "edge"), "--json"))
        boundary = {o["name"]: np.load(o["file"]) for o in report["outputs"]}
        reference = json.loads(run("run", edge, cloud, "--input", image, "--threads", "1", "--output-dir", os.path.join(work, "ref"), "--json"))
        expected = np.load(reference["outputs"][0]["file"]).tobytes()

        manifest = json.load(open(os.path.join(cloud, "manifest.json")))
        entries, section = [], b""
        for spec in manifest["inputs"]:
            data = np.ascontiguousarray(boundary[spec["name"]], dtype=np.float32).tobytes()
            entries.append({"name": spec["name"], "datatype": "FP32", "shape": spec["shape"], "parameters": {"binary_data_size": len(data)}})
            section += data
        header = json.dumps({"inputs": entries, "parameters": {"binary_data_output": True}}).encode()
        body = header + section
        print(f"cloud half of squeezenet: inputs {[(s['name'], s['shape']) for s in manifest['inputs']]}, {len(body)} bytes per request")

        process = subprocess.Popen([cleave, "serve", cloud, "--port", "0", "--threads", str(args.threads), "--log-level", "warning"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        match = re.search(r"serving model '([^']+)'.*:(\d+) with", process.stdout.readline())
        if not match:
            raise RuntimeError("cleave serve did not start")
        name, port = match.group(1), int(match.group(2))
        clients = [Client(port, name, body, len(header)) for _ in range(args.clients)]

        errors, _ = hammer(clients, 5, expected)
        check(f"warm-up: {args.clients} clients x 5 requests without errors", not errors, "; ".join(errors[:3]))
        time.sleep(1)
        warm = rss_kib(process.pid)

        errors, seconds = hammer(clients, args.requests, expected)
        total = args.clients * args.requests
        check(f"soak: {args.clients} clients x {args.requests} requests, zero errors", not errors,
              f"{len(errors)} errors, first: {errors[:3]}")
        time.sleep(1)
        after = rss_kib(process.pid)
        print(f"{total} requests in {seconds:.1f} s ({total / seconds:.0f} req/s); RSS after warm-up {warm / 1024:.1f} MiB, after soak {after / 1024:.1f} MiB ({(after / warm - 1) * 100:+.1f}%)")
        check("memory after the soak within 10% of memory after warm-up", after <= warm * 1.10, f"{warm} KiB -> {after} KiB")
        check("server alive after the soak", process.poll() is None)

        # Graceful shutdown: requests in flight when SIGTERM arrives still complete.
        for c in clients:
            c.connection.close()
        inflight = [Client(port, name, body, len(header)) for _ in range(8)]
        for c in inflight:
            c.connection.connect()
        for c in inflight:
            c.send()
        time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        statuses = []
        for c in inflight:
            try:
                status, output = c.receive()
                statuses.append(status if output == expected else f"{status}, wrong output")
            except Exception as error:
                statuses.append(repr(error))
        check("SIGTERM lets 8 in-flight requests finish with 200", statuses == [200] * 8, str(statuses))
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = "still running 30 s after SIGTERM"
        check("server exits 0 after SIGTERM", code == 0, str(code))
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
