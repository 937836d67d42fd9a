import CleaveIR

#if canImport(Glibc)
import Glibc
#endif

/// How fast one device runs cleave's kernels: a linear latency model per op
/// kind, fitted on measured one-node graphs (`Profiler`), a context model for
/// models too big for the cache, and the fixed cost of one `Session.run`.
/// Stored as JSON (`schemas/profile.schema.json`).
///
/// Predicted time of node *v* of kind *k* = `slowdown` × (h + d₀·[cold]·h +
/// d₁ + d₂·s(v) + d₃·[split]·h), with h = φₖ(op) · Σⱼ cₖⱼ · fⱼ(v) the kind model: the fⱼ are the kind's
/// features (`Feature`: a constant 1, MACs, activation input bytes, output
/// bytes, weight bytes and those read from DRAM, im2col column and packed
/// bytes, contiguous runs) computed from `Analysis`, cₖⱼ ≥ 0 the fitted
/// coefficients in milliseconds per unit, and φₖ(op) the measured factor of
/// the node's op against its kind's typical op; d₀…d₃ ≥ 0 are the context model's
/// (`ContextModel`), [cold] whether the model is too big for the cache
/// (`PredictionContext`), s(v) the bytes it reads that other cores wrote and
/// [split] whether its own work splits across the threads of a model that is
/// not cold. A whole run adds `runOverheadMilliseconds` once.
///
/// `slowdown` stands in for a slower device that cleave cannot measure
/// directly: a profile measured here at 1 thread with `slowdown` 8 predicts a
/// device 8× slower on every kernel (cleave's built-in edge profile).
public struct DeviceProfile: Sendable {
    /// The value of the JSON `format` field.
    public static let format = "cleave-device-profile"
    /// The JSON layout version this code reads and writes.
    public static let version = 1

    /// The latency model of one op kind.
    public struct KindModel: Sendable, Equatable {
        public var features: [Feature]
        /// Milliseconds per unit of each feature, before `slowdown`; all ≥ 0.
        public var coefficients: [Double]
        /// How much slower (> 1) or faster than the kind's typical op each op
        /// of it runs, by op type, measured: the ops of one kind share their
        /// loops' shape but not their cost per element (Div against Add, Log
        /// against Exp). An op without a factor takes 1.
        public var opFactors: [String: Double]
        /// In a profile of several threads, the coefficients for a node the
        /// runtime runs on one (`splitsAcrossThreads`), fitted on such
        /// configurations alone (and `coefficients` then on the split ones):
        /// they run the one-thread code, whose costs a fit over mostly split
        /// nodes misjudges beyond what `serial_macs` and `serial_bytes`
        /// correct. Nil at one thread, for kinds that never split, with too
        /// few configurations of either regime, or where one model fits the
        /// kind's configurations better; `coefficients` then serve every node.
        public var serialCoefficients: [Double]?
        /// Configurations measured to fit it.
        public var samples: Int
        /// Fit quality on those configurations: R² (linear space) and mean
        /// absolute percentage error as a fraction.
        public var r2: Double
        public var mape: Double

        public init(features: [Feature], coefficients: [Double], opFactors: [String: Double] = [:],
                    serialCoefficients: [Double]? = nil, samples: Int, r2: Double, mape: Double) {
            self.features = features
            self.coefficients = coefficients
            self.opFactors = opFactors
            self.serialCoefficients = serialCoefficients
            self.samples = samples
            self.r2 = r2
            self.mape = mape
        }

        /// Milliseconds, before `slowdown`, of a node of `op` with feature
        /// `values`, which the runtime runs on one thread of several if `serial`.
        func milliseconds(_ values: [Double], op: String, serial: Bool) -> Double {
            let coefficients = serial ? serialCoefficients ?? self.coefficients : self.coefficients
            return Swift.max(0, zip(values, coefficients).reduce(0) { $0 + $1.0 * $1.1 }) * (opFactors[op] ?? 1)
        }
    }

    /// The extra cost of a node inside a model rather than alone — a fixed
    /// amount (its code and branches compete with the other nodes'); in a
    /// model too big for the cache a fraction of a streaming node's time; at
    /// several threads in a cached model, a cost per byte it reads that other
    /// cores wrote, and a fraction of its time if it splits across the
    /// threads itself (its data was written by other cores' splits, and it
    /// waits for the slower thread) — fitted on whole synthetic networks after
    /// the kind models (`Profiler`).
    public struct ContextModel: Sendable, Equatable {
        public var features: [Feature]
        public var coefficients: [Double]
        /// Networks measured to fit it.
        public var samples: Int
        /// Whole-network fit quality with every term: R² and MAPE (fraction).
        public var r2: Double
        public var mape: Double

        public init(features: [Feature], coefficients: [Double], samples: Int, r2: Double, mape: Double) {
            self.features = features
            self.coefficients = coefficients
            self.samples = samples
            self.r2 = r2
            self.mape = mape
        }

        /// The features of the context model.
        public static let features: [Feature] = [.coldMemoryMilliseconds, .constant, .sharedInputBytes, .warmSplitMilliseconds]

        /// The context features of node `index`, whose kind model predicts `hot` milliseconds.
        func values(_ index: Int, hot: Double, in analysis: Analysis, context: PredictionContext) -> [Double] {
            let others = featureValues(index, features: features, in: analysis, context: context)
            let streams = context.cold && OpKind.of(index, in: analysis)?.isComputeBound == false
            let splits = !context.cold && splitsAcrossThreads(index, in: analysis, threads: context.threads)
            return zip(features, others).map { feature, value in
                switch feature {
                case .coldMemoryMilliseconds: streams ? hot : 0
                case .warmSplitMilliseconds: splits ? hot : 0
                default: value
                }
            }
        }

        /// No extra cost.
        public static let none = ContextModel(features: features, coefficients: features.map { _ in 0 }, samples: 0, r2: 0, mape: 0)
    }

    /// Where and when the profile was measured.
    public struct Machine: Sendable, Equatable {
        /// The CPU's model name (`lscpu`'s "Model name").
        public var cpu: String
        /// Online cores of the machine.
        public var cores: Int
        /// UTC time of the measurement, ISO 8601.
        public var measuredAt: String

        public init(cpu: String, cores: Int, measuredAt: String) {
            self.cpu = cpu
            self.cores = cores
            self.measuredAt = measuredAt
        }

        /// This machine, now.
        public static var current: Machine {
            Machine(cpu: cpuModelName(), cores: Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), measuredAt: utcTimestamp())
        }
    }

    public var name: String
    /// Threads the kernels used when measured.
    public var threads: Int
    /// Factor applied to every predicted time (1 for the measured device).
    public var slowdown: Double
    public var machine: Machine
    /// "full" or "quick": which sweep produced the samples.
    public var sweep: String
    /// Fixed cost of one `Session.run` beyond its nodes, before `slowdown`.
    public var runOverheadMilliseconds: Double
    /// Size of the last-level cache, which decides whether a model runs cold
    /// (`PredictionContext`).
    public var cacheBytes: Int
    /// Size of one core's L2 cache, which decides whether a Conv's im2col
    /// tiles stay in it (`Feature.spilledColumnBytes`); 0 if unknown.
    public var l2CacheBytes: Int
    public var models: [OpKind: KindModel]
    public var context: ContextModel

    public init(name: String, threads: Int, slowdown: Double = 1, machine: Machine, sweep: String,
                runOverheadMilliseconds: Double, cacheBytes: Int, l2CacheBytes: Int = 0, models: [OpKind: KindModel],
                context: ContextModel = .none) {
        self.name = name
        self.threads = threads
        self.slowdown = slowdown
        self.machine = machine
        self.sweep = sweep
        self.runOverheadMilliseconds = runOverheadMilliseconds
        self.cacheBytes = cacheBytes
        self.l2CacheBytes = l2CacheBytes
        self.models = models
        self.context = context
    }

    // MARK: prediction

    /// Predicted milliseconds of every node of `graph` on this device, aligned
    /// with `graph.nodes`: the node's kind model on its features, times `slowdown`.
    /// Nodes of ops cleave cannot run predict 0 (a session refuses them anyway),
    /// and so do nodes the runtime fuses into the node before.
    /// - Parameter analysis: the analysis of `graph` (shapes and costs).
    public func predictMilliseconds(graph: Graph, analysis: Analysis) -> [Double] {
        let context = PredictionContext(analysis: analysis, cacheBytes: cacheBytes, l2CacheBytes: l2CacheBytes, threads: threads)
        return graph.nodes.indices.map { nodeMilliseconds($0, in: analysis, context: context) }
    }

    /// Predicted milliseconds of node `index` of `analysis.graph`.
    func nodeMilliseconds(_ index: Int, in analysis: Analysis, context: PredictionContext) -> Double {
        guard !context.kernelless.contains(index), let kind = OpKind.of(index, in: analysis), let model = models[kind] else { return 0 }
        let values = featureValues(index, features: model.features, in: analysis, context: context)
        let serial = context.threads > 1 && !splitsAcrossThreads(index, in: analysis, threads: context.threads)
        let hot = model.milliseconds(values, op: analysis.graph.nodes[index].opType, serial: serial)
        let extra = self.context.values(index, hot: hot, in: analysis, context: context)
        let raw = hot + zip(extra, self.context.coefficients).reduce(0) { $0 + $1.0 * $1.1 }
        return Swift.max(0, raw) * slowdown
    }

    /// The fixed cost of one run, after `slowdown`.
    public var runOverhead: Double { runOverheadMilliseconds * slowdown }

    /// Predicted milliseconds of a whole run of `graph`: the run overhead plus every node.
    public func predictTotalMilliseconds(graph: Graph, analysis: Analysis) -> Double {
        runOverhead + predictMilliseconds(graph: graph, analysis: analysis).reduce(0, +)
    }

    /// This profile with another slowdown factor (and name).
    public func slowed(by factor: Double, name: String? = nil) -> DeviceProfile {
        var copy = self
        copy.slowdown = factor
        if let name { copy.name = name }
        return copy
    }

    // MARK: JSON

    /// The profile as JSON (layout: `schemas/profile.schema.json`).
    public var json: JSON {
        .object([
            ("format", .string(DeviceProfile.format)),
            ("version", .int(DeviceProfile.version)),
            ("name", .string(name)),
            ("threads", .int(threads)),
            ("slowdown", .double(slowdown)),
            ("machine", .object([("cpu", .string(machine.cpu)), ("cores", .int(machine.cores)),
                                 ("measured_at", .string(machine.measuredAt))])),
            ("sweep", .string(sweep)),
            ("run_overhead_ms", .double(runOverheadMilliseconds)),
            ("cache_bytes", .int(cacheBytes)),
            ("l2_cache_bytes", .int(l2CacheBytes)),
            ("context", .object([
                ("features", .array(context.features.map { .string($0.rawValue) })),
                ("coefficients", .array(context.coefficients.map { .double($0) })),
                ("samples", .int(context.samples)),
                ("r2", .double(context.r2)),
                ("mape", .double(context.mape)),
            ])),
            ("kinds", .object(OpKind.allCases.compactMap { kind in
                models[kind].map { model in
                    var fields: [(String, JSON)] = [
                        ("features", .array(model.features.map { .string($0.rawValue) })),
                        ("coefficients", .array(model.coefficients.map { .double($0) })),
                        ("op_factors", .object(model.opFactors.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })),
                    ]
                    if let serial = model.serialCoefficients {
                        fields.append(("serial_coefficients", .array(serial.map { .double($0) })))
                    }
                    fields += [("samples", .int(model.samples)), ("r2", .double(model.r2)), ("mape", .double(model.mape))]
                    return (kind.rawValue, JSON.object(fields))
                }
            })),
        ])
    }

    /// Reads a profile from its JSON form.
    /// - Parameter source: how messages name where the JSON came from.
    /// - Throws: `CleaveError.badInput` naming the field that is missing or
    ///   wrong, a kind the profile lacks, or a version this code does not read.
    public init(json: JSON, source: String = "profile") throws {
        func fail(_ message: String) -> CleaveError { .badInput("\(source): \(message)") }
        guard json["format"]?.stringValue == DeviceProfile.format else {
            throw fail("not a device profile (\"format\" must be \"\(DeviceProfile.format)\")")
        }
        guard let version = json["version"]?.intValue, version == DeviceProfile.version else {
            throw fail("unsupported version \(json["version"]?.serialized() ?? "(missing)"); this cleave reads version \(DeviceProfile.version)")
        }
        guard let name = json["name"]?.stringValue else { throw fail("\"name\" must be a string") }
        guard let threads = json["threads"]?.intValue, threads >= 1 else { throw fail("\"threads\" must be an integer ≥ 1") }
        guard let slowdown = json["slowdown"]?.doubleValue, slowdown > 0 else { throw fail("\"slowdown\" must be a number > 0") }
        guard let machine = json["machine"], let cpu = machine["cpu"]?.stringValue, let cores = machine["cores"]?.intValue,
              let measuredAt = machine["measured_at"]?.stringValue else {
            throw fail("\"machine\" must be {\"cpu\": string, \"cores\": integer, \"measured_at\": string}")
        }
        guard let sweep = json["sweep"]?.stringValue else { throw fail("\"sweep\" must be a string") }
        guard let overhead = json["run_overhead_ms"]?.doubleValue, overhead >= 0 else {
            throw fail("\"run_overhead_ms\" must be a number ≥ 0")
        }
        guard let cacheBytes = json["cache_bytes"]?.intValue, cacheBytes >= 0 else {
            throw fail("\"cache_bytes\" must be an integer ≥ 0")
        }
        // Profiles written before it existed have none: every im2col tile then counts as spilled.
        let l2CacheBytes = json["l2_cache_bytes"]?.intValue ?? 0
        guard l2CacheBytes >= 0 else { throw fail("\"l2_cache_bytes\" must be an integer ≥ 0") }
        guard let kinds = json["kinds"]?.objectValue else { throw fail("\"kinds\" must be an object") }
        /// A `{"features", "coefficients", "samples", "r2", "mape"}` object.
        func model(_ value: JSON, _ path: String) throws -> KindModel {
            guard let names = value["features"]?.arrayValue else { throw fail("\(path).features must be an array") }
            let features = try names.map { name -> Feature in
                guard let text = name.stringValue, let feature = Feature(rawValue: text) else {
                    throw fail("\(path).features: unknown feature \(name.serialized()) (known: \(Feature.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return feature
            }
            guard let coefficients = value["coefficients"]?.arrayValue?.compactMap(\.doubleValue),
                  coefficients.count == features.count, coefficients.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                throw fail("\(path).coefficients must be \(features.count) numbers ≥ 0, one per feature")
            }
            var serialCoefficients: [Double]?
            if let serial = value["serial_coefficients"] {
                guard let numbers = serial.arrayValue?.compactMap(\.doubleValue), numbers.count == features.count,
                      numbers.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
                    throw fail("\(path).serial_coefficients must be \(features.count) numbers ≥ 0, one per feature")
                }
                serialCoefficients = numbers
            }
            guard let samples = value["samples"]?.intValue, samples >= 0,
                  let r2 = value["r2"]?.doubleValue, let mape = value["mape"]?.doubleValue else {
                throw fail("\(path) needs \"samples\" (integer), \"r2\" and \"mape\" (numbers)")
            }
            var opFactors: [String: Double] = [:]
            if let factors = value["op_factors"] {
                guard let entries = factors.objectValue else { throw fail("\(path).op_factors must be an object") }
                for (op, factor) in entries {
                    guard let number = factor.doubleValue, number > 0, number.isFinite else {
                        throw fail("\(path).op_factors.\(op) must be a number > 0")
                    }
                    opFactors[op] = number
                }
            }
            return KindModel(features: features, coefficients: coefficients, opFactors: opFactors,
                             serialCoefficients: serialCoefficients,
                             samples: samples, r2: r2, mape: mape)
        }
        var models: [OpKind: KindModel] = [:]
        for (key, value) in kinds {
            guard let kind = OpKind(rawValue: key) else { throw fail("unknown op kind \"\(key)\" in \"kinds\"") }
            models[kind] = try model(value, "kinds.\(key)")
        }
        guard let contextJSON = json["context"] else { throw fail("\"context\" is missing") }
        let contextModel = try model(contextJSON, "context")
        let context = ContextModel(features: contextModel.features, coefficients: contextModel.coefficients,
                                   samples: contextModel.samples, r2: contextModel.r2, mape: contextModel.mape)
        let missing = OpKind.allCases.filter { models[$0] == nil }
        guard missing.isEmpty else {
            throw fail("no latency model for op kind\(missing.count > 1 ? "s" : "") \(missing.map(\.rawValue).joined(separator: ", ")); measure the device again with `cleave profile`")
        }
        self.init(name: name, threads: threads, slowdown: slowdown,
                  machine: Machine(cpu: cpu, cores: cores, measuredAt: measuredAt), sweep: sweep,
                  runOverheadMilliseconds: overhead, cacheBytes: cacheBytes, l2CacheBytes: l2CacheBytes, models: models, context: context)
    }

    /// Reads a profile file.
    /// - Throws: `CleaveError.io` if it cannot be read, `.badInput` if it is
    ///   not a valid profile.
    public static func load(path: String) throws -> DeviceProfile {
        let bytes = try readFile(path)
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch let error as CleaveError {
            throw CleaveError(error.kind, "\(path): \(error.message)")
        }
        return try DeviceProfile(json: json, source: path)
    }

    /// Writes the profile as indented JSON, atomically.
    public func write(to path: String) throws {
        let text = json.serialized(pretty: true) + "\n"
        try AtomicFile.write(to: path) { fd in
            try Array(text.utf8).withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
        }
    }
}

/// The whole file at `path` (profiles are small).
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CleaveError.io("\(path): cannot open: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw CleaveError.io("\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        bytes += chunk[0..<n]
        // A profile is a few kilobytes; refuse anything absurd before it fills memory.
        guard bytes.count <= 16 << 20 else { throw CleaveError.badInput("\(path): larger than 16 MB, not a device profile") }
    }
    return bytes
}

/// The sizes of this machine's caches that predictions depend on.
struct MachineCaches {
    var lastLevel: Int
    var l2: Int

    static var current: MachineCaches { MachineCaches(lastLevel: cacheBytes(), l2: cacheBytes(level: 2)) }
}

/// Bytes of the largest data cache of CPU 0 at `level`, or at any level if
/// nil (sysfs `cache/index*/{level,type,size}`, e.g. "2", "Unified",
/// "1024K"); 0 if unknown.
func cacheBytes(level: Int? = nil) -> Int {
    func read(_ index: Int, _ name: String) -> String? {
        (try? readFile("/sys/devices/system/cpu/cpu0/cache/index\(index)/\(name)"))
            .map { String(decoding: $0, as: UTF8.self).trimmed.trimmingNewlines }
    }
    var largest = 0
    for index in 0..<8 {
        guard let text = read(index, "size") else { break }
        guard read(index, "type") != "Instruction", level == nil || read(index, "level").flatMap({ Int($0) }) == level else { continue }
        let scale = text.hasSuffix("K") ? 1 << 10 : text.hasSuffix("M") ? 1 << 20 : 1
        if let value = Int(text.filter(\.isNumber)) { largest = Swift.max(largest, value * scale) }
    }
    return largest
}

/// `lscpu`'s "Model name": the first "model name" line of /proc/cpuinfo.
func cpuModelName() -> String {
    guard let bytes = try? readFile("/proc/cpuinfo") else { return "unknown" }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
            return String(line[line.index(after: colon)...]).trimmed
        }
    }
    return "unknown"
}

/// Now as `2025-01-31T12:00:00Z`.
func utcTimestamp() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
