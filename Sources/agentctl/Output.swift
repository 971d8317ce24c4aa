import Glibc

/// agentctl's output without Foundation: loading Foundation (and ICU with it) was a third of
/// the CLI's start-up, and a command like `agentctl status` should cost what `busctl` does.

/// Prints one line to stderr, prefixed with the program's name.
func print(error message: String) {
    writeAll(2, "agentctl: \(message)\n")
}

/// Prints and exits 1.
func fail(_ message: String) -> Never {
    print(error: message)
    exit(1)
}

/// Writes `text` to standard output as it is (no newline added), at once: progress lines that
/// overwrite themselves must not wait in a buffer.
func writeOut(_ text: String) {
    fflush(nil)
    writeAll(1, text)
}

/// Writes all of `text` to `descriptor`, retrying short writes and interruptions.
private func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(written)
    }
}

/// This process's environment, from `environ`.
func processEnvironment() -> [String: String] {
    var values: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            values[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return values
}

/// Unix time in milliseconds.
func nowMilliseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
}

/// A Unix time in milliseconds as the local time of day, "14:05:09".
func localTimeOfDay(milliseconds: Int64) -> String {
    var seconds = time_t(milliseconds / 1000)
    var parts = tm()
    localtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
}

/// `path` made absolute against the working directory, with `.` and `..` resolved by name
/// (as the shell shows it; symbolic links are the agent's business).
func absolutePath(_ path: String) -> String {
    var base: [Substring] = []
    if !path.hasPrefix("/") {
        if let directory = getcwd(nil, 0) {
            base = String(cString: directory).split(separator: "/")
            free(directory)
        }
    }
    for component in path.split(separator: "/") {
        switch component {
        case ".": continue
        case "..": if !base.isEmpty { base.removeLast() }
        default: base.append(component)
        }
    }
    return "/" + base.joined(separator: "/")
}
