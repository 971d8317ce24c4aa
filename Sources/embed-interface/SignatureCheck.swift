/// Checks D-Bus type signatures as the specification defines them, so a typo in the XML
/// ("a{sv", "a{vs}", "q u") stops the build instead of reaching the bus as a method nobody can call.
enum SignatureCheck {
    /// Why `type` is not exactly one complete type, or nil when it is.
    static func problem(in type: String) -> String? {
        let codes = Array(type.utf8)
        guard !codes.isEmpty else { return "the type is empty" }
        guard codes.count <= 255 else { return "the type is longer than 255 characters" }
        var index = 0
        if let problem = completeType(codes, &index, arrays: 0, structs: 0) { return problem }
        guard index == codes.count else {
            return "\"\(type)\" is more than one complete type; give each its own <arg>"
        }
        return nil
    }

    private static let basicCodes = Set("ybnqiuxtdhsog".utf8)
    /// The specification's limit on nesting, for arrays and for structures.
    private static let maximumDepth = 32

    /// Reads one complete type at `index`; why not, or nil.
    private static func completeType(_ codes: [UInt8], _ index: inout Int, arrays: Int, structs: Int) -> String? {
        guard index < codes.count else { return "the type ends in the middle of a container" }
        let code = codes[index]
        index += 1
        switch code {
        case _ where basicCodes.contains(code), UInt8(ascii: "v"):
            return nil
        case UInt8(ascii: "a"):
            guard arrays < maximumDepth else { return "arrays are nested more than \(maximumDepth) deep" }
            guard index < codes.count, codes[index] == UInt8(ascii: "{") else {
                return completeType(codes, &index, arrays: arrays + 1, structs: structs)
            }
            index += 1
            guard index < codes.count, basicCodes.contains(codes[index]) else {
                return "a dictionary's key must be a basic type (one of ybnqiuxtdhsog)"
            }
            index += 1
            if let problem = completeType(codes, &index, arrays: arrays + 1, structs: structs) { return problem }
            guard index < codes.count, codes[index] == UInt8(ascii: "}") else {
                return "a dictionary entry {…} holds exactly one key and one value"
            }
            index += 1
            return nil
        case UInt8(ascii: "("):
            guard structs < maximumDepth else { return "structures are nested more than \(maximumDepth) deep" }
            guard index < codes.count, codes[index] != UInt8(ascii: ")") else { return "a structure () must hold at least one type" }
            while index < codes.count, codes[index] != UInt8(ascii: ")") {
                if let problem = completeType(codes, &index, arrays: arrays, structs: structs + 1) { return problem }
            }
            guard index < codes.count else { return "a structure is not closed with )" }
            index += 1
            return nil
        case UInt8(ascii: "{"):
            return "a dictionary entry {…} may only follow an a"
        default:
            return code < 0x80 ? "'\(Character(Unicode.Scalar(code)))' is not a D-Bus type code" : "a type holds only ASCII type codes"
        }
    }
}
