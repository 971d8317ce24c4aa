public import ArgumentParser
import Glibc

extension AsyncParsableCommand {
    /// Runs the command like `main()`, but a usage error exits 2, as the brief's exit codes say
    /// (swift-argument-parser would use 64, EX_USAGE).
    public static func mainWithUsageStatus2() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let text = fullMessage(for: error) + "\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
                Glibc.exit(2)
            }
            exit(withError: error)
        }
    }
}
