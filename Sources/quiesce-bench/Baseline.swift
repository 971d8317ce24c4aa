import Foundation

/// Runs a baseline command to completion and returns what it printed and how long it took.
func runBaseline(_ executable: String, _ arguments: [String]) throws -> (output: String, elapsed: Duration) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    let clock = ContinuousClock()
    let start = clock.now
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let elapsed = start.duration(to: clock.now)
    guard process.terminationStatus == 0 else {
        throw BenchmarkError(message: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
    return (String(decoding: data, as: UTF8.self), elapsed)
}

struct BenchmarkError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A fresh scratch directory for one benchmark, on the same filesystem as the working tree's
/// build folder (so disk figures are about this disk, not a RAM-backed /tmp).
func scratchDirectory(_ name: String) throws -> String {
    let path = FileManager.default.currentDirectoryPath + "/.build/bench-scratch/\(name)"
    try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

extension Double {
    /// "0.93×", "12,345".
    var ratio: String { String(format: "%.2f×", self) }
    var grouped: String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.maximumFractionDigits = 0
        return formatter.string(from: NSNumber(value: self)) ?? "\(Int(self))"
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}
