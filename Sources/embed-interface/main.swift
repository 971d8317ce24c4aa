import Foundation

// Makes Swift from a D-Bus introspection file:
//   embed-interface INPUT OUTPUT TYPE
// writes OUTPUT with extensions of TYPE (hand-written, in the target the plugin is applied to):
// the interface and path names, INPUT's text as `introspectionXML`, and a constant for each
// method and property with the signatures INPUT gives. The build plugin EmbedInterface runs it so
// dbus/io.github.quiesce.Agent1.xml is the one source of truth: the agent serves that file, and
// every name and signature in the code comes from it. A file that is not well-formed, or that the
// code could not honour (an arg without a type, a signature that is not one complete type, a
// <signal>), fails the build with `file:line: error: …`.
let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: embed-interface INPUT OUTPUT TYPE\n".utf8))
    exit(2)
}
let (input, output, typeName) = (arguments[1], arguments[2], arguments[3])
do {
    guard let data = FileManager.default.contents(atPath: input) else {
        throw InterfaceFileError(file: input, message: "cannot read the file")
    }
    guard let xml = String(data: data, encoding: .utf8) else { throw InterfaceFileError(file: input, message: "the file is not UTF-8") }
    let description = try InterfaceFileParser.parse(data, path: input)
    let source = try GeneratedSource.render(description, xml: xml, file: input, typeName: typeName)
    try source.write(toFile: output, atomically: true, encoding: .utf8)
} catch let error as InterfaceFileError {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("embed-interface: cannot write \(output): \(error)\n".utf8))
    exit(1)
}
