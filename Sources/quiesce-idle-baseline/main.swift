import Foundation
import QuiesceDBus
import QuiesceThreads

// The baselines for the agent's idle footprint: the least a Swift program that waits on the
// session bus does. It connects (with the same D-Bus layer as the agent) and waits for a signal
// that never comes, until killed. With `--own-executors` its tasks run on QuiesceThreads' executors,
// as the agent's do; without, on the default (libdispatch) executor, the floor the agent had
// before it left libdispatch.
@main
enum IdleBaseline {
    static func main() {
        if CommandLine.arguments.contains("--own-executors") {
            QuiesceExecutors.run {
                await wait()
                return 0
            }
        }
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await wait()
            done.signal()
        }
        done.wait()
    }

    static func wait() async {
        do {
            let bus = try await BusConnection.session(environment: ProcessInfo.processInfo.environment)
            let never = try await bus.signals(matching: MatchRule(interface: "io.github.quiesce.Never", member: "Never"))
            for await _ in never {}
        } catch {
            FileHandle.standardError.write(Data("quiesce-idle-baseline: \(error)\n".utf8))
            exit(1)
        }
    }
}
