import Foundation
import PackagePlugin

/// Makes the `AgentInterface` constants from the D-Bus interface XML in `dbus/`: its names, the
/// signature of each method and property, and the XML itself as `introspectionXML`, so
/// `Introspect` serves exactly that file and no name or signature is written twice. The types the
/// generated code extends are hand-written in the target (`Sources/QuiesceInterface`).
@main
struct EmbedInterface: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "dbus/io.github.quiesce.Agent1.xml")
        let output = context.pluginWorkDirectoryURL.appending(path: "AgentInterface+Generated.swift")
        return [
            .buildCommand(
                displayName: "Generating AgentInterface from \(input.lastPathComponent)",
                executable: try context.tool(named: "embed-interface").url,
                arguments: [input.path, output.path, "AgentInterface"],
                inputFiles: [input],
                outputFiles: [output])
        ]
    }
}
