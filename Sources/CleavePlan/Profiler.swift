import CleaveIR
import CleaveRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Measures this machine and fits a `DeviceProfile`, in three steps:
///
/// 1. The fixed cost of one `Session.run`: the intercept of run time against
///    the length of chains of 1 to 64 Identity nodes.
/// 2. Every configuration of the `Sweep` as a one-node graph through
///    `Session` — the same kernels and executor a model uses — after warm-up
///    runs, repeated until enough runs and time were observed; then a
///    non-negative least-squares fit per op kind (`LinearFit`). A node run
///    again and again has everything cached, as in a small model.
/// 3. `SyntheticNetworks`, whole — large ones too big for the cache and small
///    ones of many different ops: what they take beyond the sum of their
///    nodes' predictions is fitted as a fixed cost per node plus, in the large
///    ones, a fraction of the nodes' own predictions (inputs and output memory
///    partly evicted since the node last ran) — the context model
///    (`DeviceProfile.ContextModel`).
public enum Profiler {
    /// What to measure.
    public struct Options: Sendable {
        public var threads: Int
        public var name: String
        /// A sixth of the configurations, fewer repeats: seconds instead of a minute or two.
        public var quick: Bool
        /// Recorded in the profile and applied to every prediction (1 = this machine).
        public var slowdown: Double

        public init(threads: Int, name: String, quick: Bool = false, slowdown: Double = 1) {
            self.threads = threads
            self.name = name
            self.quick = quick
            self.slowdown = slowdown
        }
    }

    /// Progress, reported after every measured configuration.
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var kind: String
        public var elapsedSeconds: Double
    }

    /// One measured configuration.
    public struct Sample: Sendable {
        public var kind: OpKind
        /// The node's op type.
        public var op: String
        /// A short description of the configuration: op and shapes.
        public var label: String
        /// Values of the kind's features (`OpKind.features`).
        public var features: [Double]
        /// The runtime runs the node on one thread of the profile's several.
        public var serial: Bool
        /// Typical milliseconds of the one-node run (run overhead included).
        public var milliseconds: Double
    }

    /// One measured network of the context fit.
    public struct NetworkSample: Sendable {
        public var label: String
        /// The context model's features, summed over the network's nodes.
        public var contextFeatures: [Double]
        /// The run overhead plus the kind models' predictions of its nodes, without context.
        public var bareMilliseconds: Double
        /// Typical milliseconds of a run.
        public var milliseconds: Double
    }

    /// A fitted profile and the samples it was fitted on.
    public struct Result: Sendable {
        public var profile: DeviceProfile
        public var samples: [Sample]
        public var networks: [NetworkSample]

        /// The samples with the profile's prediction next to each, as JSON
        /// (`[{"kind", "label", "features", "serial", "measured_ms", "predicted_ms"}]`),
        /// then the networks as `"kind": "network"`, their features the
        /// context model's summed over their nodes.
        public var samplesJSON: JSON {
            let layers = samples.map { sample in
                // Predicted like the sample was measured: one node plus one run overhead.
                let node = profile.models[sample.kind]?.milliseconds(sample.features, op: sample.op, serial: sample.serial) ?? 0
                let predicted = profile.runOverheadMilliseconds + node
                return JSON.object([("kind", .string(sample.kind.rawValue)), ("label", .string(sample.label)),
                                    ("features", .array(sample.features.map { .double($0) })), ("serial", .bool(sample.serial)),
                                    ("measured_ms", .double(sample.milliseconds)), ("predicted_ms", .double(predicted))])
            }
            let networks = networks.map { network in
                let predicted = network.bareMilliseconds
                    + zip(network.contextFeatures, profile.context.coefficients).reduce(0) { $0 + $1.0 * $1.1 }
                return JSON.object([("kind", .string("network")), ("label", .string(network.label)),
                                    ("features", .array(network.contextFeatures.map { .double($0) })),
                                    ("measured_ms", .double(network.milliseconds)), ("predicted_ms", .double(predicted))])
            }
            return .array(layers + networks)
        }
    }

    /// Measures every op kind and fits the profile.
    /// - Throws: `CleaveError` if a sweep configuration fails to run (a bug in
    ///   the sweep or a kernel, never expected).
    public static func measure(_ options: Options, progress: ((Progress) -> Void)? = nil) throws -> Result {
        let start = Session.now()
        let specs = Sweep.specs(quick: options.quick)
        let networks = SyntheticNetworks.specs(quick: options.quick)
        let timing = Timing(quick: options.quick, threads: options.threads)
        // Each configuration is measured in passes a while apart and the
        // fastest kept: another process that holds a core for a whole
        // measurement rarely does so in every pass.
        let passes = options.quick ? 2 : 3
        let total = passes * (specs.count + networks.count) + 1
        func report(_ done: Int, _ what: String) {
            progress?(Progress(done: done, total: total, kind: what, elapsedSeconds: Session.now() - start))
        }
        var overhead = Double.infinity
        var samples: [Sample] = []
        let caches = MachineCaches.current
        for pass in 0..<passes {
            // Every node's constant term is net of it, so it gets the passes as well.
            overhead = Swift.min(overhead, try runOverhead(threads: options.threads, timing: timing))
            if pass == 0 { report(1, "run overhead") }
            for (index, spec) in specs.enumerated() {
                // Every other configuration with weights runs with them evicted, so the fit sees both.
                let sample = try measure(spec.make(), threads: options.threads, timing: timing,
                                         coldWeights: index % 2 == 1, caches: caches)
                if pass == 0 {
                    samples.append(sample)
                } else {
                    samples[index].milliseconds = Swift.min(samples[index].milliseconds, sample.milliseconds)
                }
                report(pass * specs.count + index + 2, spec.kind.rawValue)
            }
        }
        var profile = fit(samples, options: options, overhead: overhead, caches: caches)

        var measured: [NetworkSample] = []
        for pass in 0..<passes {
            for (index, spec) in networks.enumerated() {
                let network = try spec.make()
                let session = try Session(graph: network.graph, options: SessionOptions(threads: options.threads))
                // As many runs as a layer gets: a small network of 30 µs needs hundreds for a steady quartile.
                let milliseconds = try timing.typical([session], network.feeds)
                if pass == 0 {
                    measured.append(networkSample(try Analysis(graph: network.graph), milliseconds: milliseconds, profile: profile))
                } else {
                    measured[index].milliseconds = Swift.min(measured[index].milliseconds, milliseconds)
                }
                report(passes * specs.count + pass * networks.count + index + 2, "network")
            }
        }
        profile.context = fitContext(measured)
        return Result(profile: profile, samples: samples, networks: measured)
    }

    /// Fits one model per kind to `samples`.
    static func fit(_ samples: [Sample], options: Options, overhead: Double, caches: MachineCaches) -> DeviceProfile {
        var models: [OpKind: DeviceProfile.KindModel] = [:]
        for kind in OpKind.allCases {
            models[kind] = fitKind(samples.filter { $0.kind == kind }, features: kind.features, overhead: overhead)
        }
        return DeviceProfile(name: options.name, threads: options.threads, slowdown: 1,
                             machine: .current, sweep: options.quick ? "quick" : "full",
                             runOverheadMilliseconds: overhead, cacheBytes: caches.lastLevel, l2CacheBytes: caches.l2, models: models)
            .slowed(by: options.slowdown)
    }

    /// Fits one kind's model: the linear model of its typical op and a factor
    /// per op, in turns until the factors settle — the linear fit on every
    /// sample divided by its op's factor, then each op's factor as the median
    /// ratio of its samples to the linear model, scaled so that their
    /// geometric mean over the samples is 1.
    ///
    /// At several threads, the samples the runtime split across them and
    /// those it ran on one are then fitted again apart (`regimes`).
    ///
    /// The samples are whole one-node runs, so every one includes the run
    /// overhead; the fit sees them as measured (the relative error of a 1 µs
    /// ReLU stays meaningful) and the overhead is then taken out of the
    /// constant term, since a model pays it once, not once per node.
    static func fitKind(_ samples: [Sample], features: [Feature], overhead: Double) -> DeviceProfile.KindModel {
        var factors: [String: Double] = [:]
        var coefficients = features.map { _ in 0.0 }
        func node(_ sample: Sample) -> Double { sample.milliseconds - overhead }
        func linear(_ sample: Sample) -> Double { zip(sample.features, coefficients).reduce(0) { $0 + $1.0 * $1.1 } - overhead }
        let ops = Set(samples.map(\.op))
        for _ in 0..<20 {
            let targets = samples.map { overhead + node($0) / (factors[$0.op] ?? 1) }
            guard let fit = LinearFit.fit(rows: samples.map(\.features), targets: targets) else {
                return DeviceProfile.KindModel(features: features, coefficients: coefficients, samples: 0, r2: 0, mape: 0)
            }
            coefficients = fit.coefficients
            guard ops.count > 1 else { break }
            var ratios: [String: [Double]] = [:]
            for sample in samples where linear(sample) > 0 && node(sample) > 0 {
                ratios[sample.op, default: []].append(node(sample) / linear(sample))
            }
            var next = ratios.mapValues { quantile($0.sorted(), 0.5) }
            let logs = samples.compactMap { next[$0.op].map { log($0) } }
            let mean = exp(logs.reduce(0, +) / Double(Swift.max(1, logs.count)))
            next = next.mapValues { $0 / mean }
            let settled = next.allSatisfy { op, factor in abs(factor / (factors[op] ?? 1) - 1) < 1e-6 }
            factors = next
            if settled { break }
        }
        func model(_ coefficients: [Double], serial: [Double]?) -> DeviceProfile.KindModel {
            var model = DeviceProfile.KindModel(
                features: features, coefficients: netOfOverhead(coefficients, features: features, overhead: overhead), opFactors: factors,
                serialCoefficients: serial.map { netOfOverhead($0, features: features, overhead: overhead) },
                samples: samples.count, r2: 0, mape: 0)
            // Predicted as measured: one node plus one run overhead.
            let predictions = samples.map { overhead + model.milliseconds($0.features, op: $0.op, serial: $0.serial) }
            (model.r2, model.mape) = LinearFit.quality(predictions: predictions, targets: samples.map(\.milliseconds))
            return model
        }
        let one = model(coefficients, serial: nil)
        // Two regimes only where they describe the samples better than one model.
        guard let regimes = regimes(samples, features: features, factors: factors, overhead: overhead) else { return one }
        let two = model(regimes.split, serial: regimes.serial)
        return two.mape < one.mape ? two : one
    }

    /// A kind's two regimes at several threads: the linear model refitted
    /// on the samples the runtime split across threads and, apart, on those
    /// it ran on one (`KindModel.serialCoefficients`), with the ops' factors
    /// of the fit over all. Nil when the kind has no serial feature (it never
    /// splits) or either regime has fewer than two samples per coefficient.
    private static func regimes(_ samples: [Sample], features: [Feature], factors: [String: Double],
                                overhead: Double) -> (split: [Double], serial: [Double])? {
        let markers: Set<Feature> = [.serialMacs, .serialBytes]
        let serial = samples.filter(\.serial), split = samples.filter { !$0.serial }
        let free = features.filter { !markers.contains($0) }.count
        guard features.contains(where: markers.contains), serial.count >= 2 * free, split.count >= 2 * free else { return nil }
        func fit(_ samples: [Sample]) -> [Double]? {
            // The markers are 0 on split samples and repeat the products or bytes on serial ones: leave them out.
            let rows = samples.map { sample in zip(features, sample.features).map { markers.contains($0) ? 0 : $1 } }
            let targets = samples.map { overhead + ($0.milliseconds - overhead) / (factors[$0.op] ?? 1) }
            return LinearFit.fit(rows: rows, targets: targets)?.coefficients
        }
        guard let splitCoefficients = fit(split), let serialCoefficients = fit(serial) else { return nil }
        return (splitCoefficients, serialCoefficients)
    }

    /// Coefficients fitted on whole one-node runs with the run overhead taken
    /// out of the constant term: a model pays it once, not once per node.
    private static func netOfOverhead(_ coefficients: [Double], features: [Feature], overhead: Double) -> [Double] {
        guard let constant = features.firstIndex(of: .constant) else { return coefficients }
        var net = coefficients
        net[constant] = Swift.max(0, net[constant] - overhead)
        return net
    }

    /// A measured network with the sums of the context features over its
    /// nodes (the kind models' predictions in a cold network, the number of
    /// nodes, the shared input bytes) and its prediction without context.
    static func networkSample(_ analysis: Analysis, milliseconds: Double, profile: DeviceProfile) -> NetworkSample {
        var bare = profile.slowed(by: 1)
        bare.context = .none
        let context = PredictionContext(analysis: analysis, cacheBytes: profile.cacheBytes, l2CacheBytes: profile.l2CacheBytes,
                                        threads: profile.threads)
        let hot = bare.predictMilliseconds(graph: analysis.graph, analysis: analysis)
        var sums = [Double](repeating: 0, count: DeviceProfile.ContextModel.features.count)
        for index in analysis.graph.nodes.indices where !context.kernelless.contains(index) && OpKind.of(index, in: analysis) != nil {
            let values = DeviceProfile.ContextModel.none.values(index, hot: hot[index], in: analysis, context: context)
            for j in sums.indices { sums[j] += values[j] }
        }
        return NetworkSample(label: analysis.graph.name, contextFeatures: sums,
                             bareMilliseconds: bare.runOverheadMilliseconds + hot.reduce(0, +), milliseconds: milliseconds)
    }

    /// Fits the context model: per network, measured time minus its
    /// prediction without context, against the sums of the context features
    /// over its nodes, relative to the measured time.
    static func fitContext(_ networks: [NetworkSample]) -> DeviceProfile.ContextModel {
        let rows = networks.map(\.contextFeatures), totals = networks.map(\.milliseconds)
        let residuals = networks.map { $0.milliseconds - $0.bareMilliseconds }
        guard let fit = LinearFit.fit(rows: rows, targets: residuals, scales: totals) else { return .none }
        // Quality of the whole prediction (kind models + context) on the networks.
        let predictions = zip(rows, networks).map { row, network in
            network.bareMilliseconds + zip(row, fit.coefficients).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let quality = LinearFit.quality(predictions: predictions, targets: totals)
        return DeviceProfile.ContextModel(features: DeviceProfile.ContextModel.features, coefficients: fit.coefficients,
                                          samples: networks.count, r2: quality.r2, mape: quality.mape)
    }

    /// Runs one configuration and returns its features and time.
    ///
    /// With `coldWeights`, weights of 64 KiB or more are replicated into
    /// enough sessions (at most 32) to span 64 MiB, run in turn, so each run
    /// reads its weights from DRAM as in a model too big for the cache, while
    /// the code and the runtime's own data stay warm; otherwise one session
    /// runs again and again and its weights stay cached, as in a small model.
    /// Weights over half the cache are cold either way.
    static func measure(_ layer: LayerCase, threads: Int, timing: Timing, coldWeights: Bool,
                        caches: MachineCaches) throws -> Sample {
        let cacheBytes = caches.lastLevel
        let analysis = try Analysis(graph: layer.graph)
        let weightBytes = layer.graph.initializers.reduce(0) { $0 + $1.tensor.byteCount }
        let replicate = coldWeights && weightBytes >= 64 << 10
        let copies = replicate ? Swift.min(32, Swift.max(1, (64 << 20) / weightBytes)) : 1
        var sessions: [Session] = []
        for copy in 0..<copies {
            var graph = layer.graph
            if copy > 0 {
                graph.initializers = graph.initializers.map { initializer in
                    let tensor = initializer.tensor
                    return Initializer(name: initializer.name,
                                       tensor: Tensor(dtype: tensor.dtype, shape: tensor.shape, storage: TensorStorage(copying: tensor.storage.bytes)))
                }
            }
            sessions.append(try Session(graph: graph, options: SessionOptions(threads: threads)))
        }
        let milliseconds = try timing.typical(sessions, layer.feeds)
        // The kind prediction will assign (a 1×1 Conv of the Conv sweep is pointwise).
        let kind = OpKind.of(0, in: analysis) ?? layer.kind
        // Only the weights are cold here; the rest of a cold model's context is the context model's part.
        let context = PredictionContext(cold: false, cacheBytes: replicate ? 0 : cacheBytes, l2CacheBytes: caches.l2, threads: threads)
        let features = featureValues(0, features: kind.features, in: analysis, context: context)
        let cold = replicate || weightBytes > cacheBytes / 2
        // A floor keeps the relative-error weights finite if a clock ever reads 0.
        return Sample(kind: kind, op: layer.graph.nodes.first?.opType ?? "", label: describe(layer) + (cold ? " (weights in DRAM)" : ""),
                      features: features, serial: threads > 1 && !splitsAcrossThreads(0, in: analysis, threads: threads),
                      milliseconds: Swift.max(milliseconds, 1e-6))
    }

    /// `Conv x[1, 3, 224, 224] w[64, 3, 11, 11] strides=4,4`.
    static func describe(_ layer: LayerCase) -> String {
        guard let node = layer.graph.nodes.first else { return layer.kind.rawValue }
        let shapes = node.inputs.filter { !$0.isEmpty }.map { name -> String in
            let shape = layer.feeds[name]?.shape ?? layer.graph.initializers.first { $0.name == name }?.tensor.shape
            return shape.map { "\($0)" } ?? "?"
        }
        let attributes = node.attributes.compactMap { attribute -> String? in
            switch attribute.value {
            case .int(let v): return "\(attribute.name)=\(v)"
            case .ints(let v): return "\(attribute.name)=\(v.map(String.init).joined(separator: ","))"
            case .string(let v): return "\(attribute.name)=\(String(decoding: v, as: UTF8.self))"
            default: return nil
            }
        }
        return ([node.opType] + shapes + attributes).joined(separator: " ")
    }

    /// The fixed cost of one `Session.run`, in ms: the intercept of run time
    /// against the length of a chain of Identity nodes.
    static func runOverhead(threads: Int, timing: Timing) throws -> Double {
        var rows: [[Double]] = [], targets: [Double] = []
        for length in [1, 4, 16, 64] {
            let b = CaseBuilder()
            var previous = b.activation([1])
            var nodes: [Node] = []
            for i in 0..<length {
                nodes.append(Node(name: "n\(i)", opType: "Identity", inputs: [previous], outputs: ["t\(i)"]))
                previous = "t\(i)"
            }
            var layer = b.build(.reshape, nodes[0])
            layer.graph.nodes = nodes
            layer.graph.outputs = [ValueInfo(name: previous, dtype: nil, dims: nil)]
            let session = try Session(graph: layer.graph, options: SessionOptions(threads: threads))
            rows.append([1, Double(length)])
            targets.append(try timing.typical([session], layer.feeds))
        }
        return LinearFit.fit(rows: rows, targets: targets)?.coefficients.first ?? 0
    }

    /// How often to run each configuration, and how to read the clock.
    struct Timing {
        var warmUps: Int
        var minimumRuns: Int
        var maximumRuns: Int
        /// Keep repeating until this much time was measured (fast ops need many runs).
        var minimumMilliseconds: Double
        /// At one thread, runs of 2 ms or more read the process's CPU time:
        /// the same as wall time on an idle machine, but blind to the time
        /// other processes take the core away, so a busy machine still gives
        /// a clean profile. Shorter runs read the wall clock, since reading
        /// the CPU clock is a system call that itself costs about a
        /// microsecond, and a short run is rarely interrupted. With more
        /// threads, always wall time (CPU time would add up the threads).
        var cpuClock: Bool

        init(quick: Bool, threads: Int) {
            warmUps = 2
            minimumRuns = quick ? 5 : 9
            maximumRuns = quick ? 200 : 1000
            minimumMilliseconds = quick ? 10 : 40
            cpuClock = threads == 1
        }

        static func now(cpu: Bool) -> Double {
            var ts = timespec()
            clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }

        /// The typical time in ms of `session.run(feeds)`, outputs released
        /// inside the timing (as a model releases each activation after its
        /// last reader): the lower quartile of the runs, which discounts runs
        /// slowed by other processes competing for the cores, the cache and
        /// memory, and on an idle machine is close to the median that
        /// `cleave run` reports. (The fastest run, which used to be kept with
        /// several threads, predicted small layers 10–20 % fast: a model's
        /// median is not made of its layers' fastest runs.) Several sessions
        /// (copies of one graph) run in turn.
        func typical(_ sessions: [Session], _ feeds: [String: Tensor]) throws -> Double {
            for _ in 0..<Swift.max(0, warmUps - 1) { for session in sessions { _ = try session.run(feeds) } }
            let probe = Timing.now(cpu: false)
            for session in sessions { _ = try session.run(feeds) }
            let cpu = cpuClock && (Timing.now(cpu: false) - probe) / Double(sessions.count) >= 0.002
            var times: [Double] = []
            var spent = 0.0
            func more() -> Bool {
                return times.count < maximumRuns && (times.count < minimumRuns || spent < minimumMilliseconds)
            }
            while more() {
                let session = sessions[times.count % sessions.count]
                let start = Timing.now(cpu: cpu)
                _ = try session.run(feeds)
                let elapsed = (Timing.now(cpu: cpu) - start) * 1000
                times.append(elapsed)
                spent += elapsed
            }
            times.sort()
            return quantile(times, 0.25)
        }
    }
}

/// The `q` quantile of sorted `values` (linear interpolation).
func quantile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let position = q * Double(values.count - 1)
    let low = Int(position.rounded(.down)), high = Swift.min(values.count - 1, low + 1)
    return values[low] + (values[high] - values[low]) * (position - Double(low))
}
