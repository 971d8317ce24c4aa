import Foundation
import PackagePlugin

/// Builds the D-Bus interface XML in `dbus/` into the target as a string constant
/// (`embeddedInterfaceXML`), so `Introspect` serves exactly that file.
@main
struct EmbedInterface: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let input = context.package.directoryURL.appending(path: "dbus/io.github.quiesce.Agent1.xml")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedInterface.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(input.lastPathComponent)",
                executable: try context.tool(named: "embed-interface").url,
                arguments: [input.path, output.path, "embeddedInterfaceXML"],
                inputFiles: [input],
                outputFiles: [output])
        ]
    }
}
