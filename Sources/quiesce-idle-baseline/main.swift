import Foundation
import QuiesceDBus

// The baseline for the agent's idle footprint: the least a Swift program that waits on the
// session bus does. It connects (with the same D-Bus layer as the agent) and waits for a signal
// that never comes, until killed.
let bus = try await BusConnection.session(environment: ProcessInfo.processInfo.environment)
let never = try await bus.signals(matching: MatchRule(interface: "io.github.quiesce.Never", member: "Never"))
for await _ in never {}
