public import ArgumentParser
import Foundation

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
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
