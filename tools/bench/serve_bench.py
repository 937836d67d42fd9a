"""Serving throughput: `cleave serve` and KServe's Python server at concurrency 1, 8 and 64, in one run.

Usage: .venv/bin/python tools/bench/serve_bench.py [--cleave .build/release/cleave] [--model resnet50]
           [--workers 2] [--repeats 15] [--requests 30,64,128] [--no-kserve]

The model (.models/light/<model>.onnx, from tools/light_models.py) is cut in
the middle of its node list; the cloud half is what is measured. Baseline: the
same cloud half run locally by `cleave run CLOUD --threads 1 --repeat N` (the
median), once alone, and as many processes side by side as the server has
workers (its capacity without HTTP). Served: `cleave serve CLOUD --threads
WORKERS` on a loopback port, loaded by C client threads, each with one
keep-alive connection sending binary KServe v2 requests; requests/s over the
wall time, p50/p99 over per-request latencies (after one warm-up request per
client), and the median of the model run inside the server (the response's
compute_ms). Every response's output must equal the local run's, bit for bit.
The ratio served/local is the cost of serving (1.00 = none).

The peer: KServe's own Python model server (`kserve.Model` running the same
cloud half's model.onnx with ONNX Runtime, tools/interop/kserve_onnx.py in
.venv-kserve: one process, predict in its event loop, ONNX Runtime's default
threads = all cores), loaded by the same clients with the same binary requests
(KServe reads and writes binary tensor data without listing the extension);
every response must equal ONNX Runtime's output here for the same boundary, to
float tolerance. cleave/KServe ratios: requests/s (goal >= 1.00) and p99 (goal <= 1.00).
"""
import argparse, http.client, json, os, re, socket, statistics, subprocess, sys, tempfile, threading, time, shutil

import numpy as np
import onnx

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--model", default="resnet50")
parser.add_argument("--workers", type=int, default=2, help="the server's worker sessions (--threads of cleave serve)")
parser.add_argument("--repeats", type=int, default=15, help="local runs per baseline process")
parser.add_argument("--concurrency", default="1,8,64")
parser.add_argument("--requests", default="30,64,128", help="measured requests per concurrency level")
parser.add_argument("--dir", default=".models/light")
parser.add_argument("--no-kserve", action="store_true", help="measure cleave serve only")
args = parser.parse_args()
cleave = os.path.abspath(args.cleave)
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*command):
    result = subprocess.run([cleave, *command], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        sys.exit(f"cleave {' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def middle_tensor(path):
    model = onnx.load(path, load_external_data=False)
    outputs = {o.name for o in model.graph.output}
    nodes = [n for n in model.graph.node if n.op_type not in ("Constant", "Shape")]
    candidates = [t for n in nodes[:-1] for t in n.output if t and t not in outputs]
    return candidates[len(candidates) // 2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_kserve(model, name):
    """KServe's Python server on the cloud half; returns the process and its port once the model is ready."""
    python = os.path.join(root, ".venv-kserve", "bin", "python")
    if not os.path.exists(python):
        sys.exit(".venv-kserve is missing: run tools/setup.sh (or pass --no-kserve)")
    port = free_port()
    process = subprocess.Popen([python, os.path.join(root, "tools", "interop", "kserve_onnx.py"), model, "--name", name, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"KServe's server exited {process.returncode} before it was ready")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", f"/v2/models/{name}/ready")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.25)
    process.kill()
    sys.exit("KServe's server was not ready after 120 s")


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main():
    path = os.path.join(args.dir, args.model + ".onnx")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {args.model}")
    work = tempfile.mkdtemp(prefix="cleave-serve-bench-")
    server = kserve = None
    try:
        pair = os.path.join(work, "pair")
        run("cut", path, "--at", middle_tensor(path), "-o", pair)
        edge, cloud = os.path.join(pair, "edge"), os.path.join(pair, "cloud")
        session_input = onnx.load(path, load_external_data=False).graph.input[0].name
        image = f"{session_input}={os.path.join(args.dir, args.model, 'input_0.npy')}"
        report = json.loads(run("run", edge, "--input", image, "--output-dir", os.path.join(work, "edge"), "--json"))
        files = {o["name"]: o["file"] for o in report["outputs"]}
        manifest = json.load(open(os.path.join(cloud, "manifest.json")))
        feeds = [arg for spec in manifest["inputs"] for arg in ("--input", f"{spec['name']}={files[spec['name']]}")]

        # Baseline: the cloud half through cleave's runtime, one thread per run.
        local = json.loads(run("run", cloud, *feeds, "--threads", "1", "--repeat", str(args.repeats), "--json",
                               "--output-dir", os.path.join(work, "local")))
        expected = np.load(local["outputs"][0]["file"]).tobytes()
        single_ms = local["latency_ms"]["median"]
        processes = [subprocess.Popen([cleave, "run", cloud, *feeds, "--threads", "1", "--repeat", str(args.repeats), "--json"],
                                      stdout=subprocess.PIPE, text=True) for _ in range(args.workers)]
        parallel_ms = [json.loads(p.communicate()[0])["latency_ms"]["median"] for p in processes]
        local_parallel_rps = sum(1000 / m for m in parallel_ms)

        entries, section = [], b""
        for spec in manifest["inputs"]:
            data = np.ascontiguousarray(np.load(files[spec["name"]]), dtype=np.float32).tobytes()
            entries.append({"name": spec["name"], "datatype": "FP32", "shape": spec["shape"], "parameters": {"binary_data_size": len(data)}})
            section += data
        header = json.dumps({"id": "bench", "inputs": entries, "parameters": {"binary_data_output": True}}).encode()
        body = header + section
        headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))}

        server = subprocess.Popen([cleave, "serve", cloud, "--port", "0", "--threads", str(args.workers), "--log-level", "warning"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        match = re.search(r"serving model '([^']+)'.*:(\d+) with", server.stdout.readline())
        if not match:
            sys.exit("cleave serve did not start")
        name, server_port = match.group(1), int(match.group(2))

        def measure(concurrency, total, port=None, name=name, correct=lambda output: output == expected, timed=True):
            port = port or server_port
            connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=600) for _ in range(concurrency)]
            latencies, errors, compute = [], [], []
            lock = threading.Lock()

            def one(connection):
                start = time.perf_counter()
                connection.request("POST", f"/v2/models/{name}/infer", body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                elapsed = (time.perf_counter() - start) * 1000
                length = int(response.getheader("Inference-Header-Content-Length") or 0)
                if response.status != 200 or not correct(data[length:]):
                    with lock:
                        errors.append(response.status)
                elif timed:
                    with lock:
                        compute.append(json.loads(data[:length])["parameters"]["compute_ms"])
                return elapsed

            warm = [threading.Thread(target=one, args=(c,)) for c in connections]
            for t in warm:
                t.start()
            for t in warm:
                t.join()
            counts = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]

            def loop(connection, count):
                for _ in range(count):
                    ms = one(connection)
                    with lock:
                        latencies.append(ms)
            threads = [threading.Thread(target=loop, args=(c, n)) for c, n in zip(connections, counts)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
            for c in connections:
                c.close()
            if errors:
                sys.exit(f"{len(errors)} failed requests at concurrency {concurrency} on port {port}: {errors[:5]}")
            return len(latencies) / wall, percentile(latencies, 50), percentile(latencies, 99), percentile(compute, 50) if timed else None

        levels = [int(c) for c in args.concurrency.split(",")]
        totals = [int(n) for n in args.requests.split(",")]
        rows = []
        for concurrency, total in zip(levels, totals):
            rps, p50, p99, model_ms = measure(concurrency, max(total, concurrency))
            local_rps = 1000 / single_ms if concurrency == 1 else local_parallel_rps
            rows.append((concurrency, max(total, concurrency), rps, p50, p99, model_ms, local_rps, rps / local_rps))
        server.terminate()
        server.wait(timeout=30)
        server = None

        # The peer, measured after cleave serve has stopped, so that each has the machine to itself.
        peer_rows = []
        if not args.no_kserve:
            import onnxruntime as ort
            session = ort.InferenceSession(os.path.join(cloud, "model.onnx"), providers=["CPUExecutionProvider"])
            feeds_np = {i.name: np.load(files[i.name]) for i in session.get_inputs()}
            (ort_output,) = session.run(None, feeds_np)  # the cloud halves here have one output
            ort_expected = np.ascontiguousarray(ort_output, dtype=np.float32).ravel()
            del session

            def same_as_ort(output):
                # The server's ONNX Runtime may order a reduction differently from this one: float tolerance.
                got = np.frombuffer(output, dtype=np.float32)
                return got.shape == ort_expected.shape and np.allclose(got, ort_expected, rtol=1e-5, atol=1e-6)

            kserve, kserve_port = start_kserve(os.path.join(cloud, "model.onnx"), name)
            for concurrency, total in zip(levels, totals):
                rps, p50, p99, _ = measure(concurrency, max(total, concurrency), port=kserve_port, correct=same_as_ort, timed=False)
                peer_rows.append((rps, p50, p99))
    finally:
        for process in (server, kserve):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    boundary = ", ".join(f"{s['name']} {s['shape']}" for s in manifest["inputs"])
    print(f"{args.model} cloud half (cut at {boundary}, {len(body) / 1e6:.2f} MB per request), server: {args.workers} workers x 1 thread")
    print(f"local `cleave run CLOUD --threads 1`: median {single_ms:.2f} ms alone; {args.workers} processes side by side: "
          + ", ".join(f"{m:.2f}" for m in parallel_ms) + f" ms = {local_parallel_rps:.2f} req/s")
    print(f"{'concurrency':>11}  {'requests':>8}  {'req/s':>8}  {'p50 ms':>8}  {'p99 ms':>8}  {'run p50 ms':>10}  {'local req/s':>11}  {'served/local':>12}")
    for c, n, rps, p50, p99, model_ms, local_rps, ratio in rows:
        print(f"{c:>11}  {n:>8}  {rps:>8.2f}  {p50:>8.2f}  {p99:>8.2f}  {model_ms:>10.2f}  {local_rps:>11.2f}  {ratio:>12.2f}")
    print("run p50 = the model run inside the server (its compute_ms); p50 - run p50 at concurrency 1 is the HTTP and protocol overhead")
    if peer_rows:
        print()
        print(f"cleave serve ({args.workers} workers x 1 thread) vs KServe's Python server (kserve.Model + ONNX Runtime, 1 process, ORT's default threads), same requests:")
        print(f"{'concurrency':>11}  {'cleave req/s':>12}  {'KServe req/s':>12}  {'req/s ratio':>11}  {'cleave p50':>10}  {'KServe p50':>10}"
              f"  {'cleave p99':>10}  {'KServe p99':>10}  {'p99 ratio':>9}")
        for (c, _, rps, p50, p99, _, _, _), (krps, kp50, kp99) in zip(rows, peer_rows):
            print(f"{c:>11}  {rps:>12.2f}  {krps:>12.2f}  {rps / krps:>11.2f}  {p50:>10.2f}  {kp50:>10.2f}  {p99:>10.2f}  {kp99:>10.2f}  {p99 / kp99:>9.2f}")
        print("ratios are cleave / KServe: req/s >= 1.00 and p99 <= 1.00 mean cleave serve is at least as fast")


if __name__ == "__main__":
    main()
