import Foundation

// Writes a Swift file that holds a text file's contents as a string constant:
//   embed-interface INPUT OUTPUT NAME
// The build plugin EmbedInterface runs it so the agent serves dbus/io.github.quiesce.Agent1.xml,
// the one source of truth, without a copy in the sources or a resource bundle to install.
let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: embed-interface INPUT OUTPUT NAME\n".utf8))
    exit(2)
}
let text = try String(contentsOfFile: arguments[1], encoding: .utf8)
// A raw string literal with enough #s that nothing in the text can end it.
var hashes = "#"
while text.contains("\"" + hashes) { hashes += "#" }
let source = """
    // Generated at build time from \(URL(fileURLWithPath: arguments[1]).lastPathComponent) by the EmbedInterface plugin. Do not edit.
    let \(arguments[3]) = \(hashes)\"\"\"
    \(text)
    \"\"\"\(hashes)

    """
try source.write(toFile: arguments[2], atomically: true, encoding: .utf8)
