import Foundation

/// CPU model, cores, memory, kernel: enough to compare two reports.
public func describeMachine() -> String {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    let cpu = read("/proc/cpuinfo").split(separator: "\n")
        .first { $0.hasPrefix("model name") }?
        .split(separator: ":", maxSplits: 1).last?
        .trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    let memory = read("/proc/meminfo").split(separator: "\n")
        .first { $0.hasPrefix("MemTotal") }?
        .split(separator: ":", maxSplits: 1).last?
        .trimmingCharacters(in: .whitespaces) ?? "unknown"
    let kernel = read("/proc/sys/kernel/osrelease").trimmingCharacters(in: .whitespacesAndNewlines)
    let system = read("/etc/debian_version").trimmingCharacters(in: .whitespacesAndNewlines)
    return """
        - CPU: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores available
        - memory: \(memory)
        - kernel: Linux \(kernel), Debian \(system)
        """
}
