import CLibFuzzer

#if canImport(Glibc)
    import Glibc
#endif

/// The signature libFuzzer calls for each input: `int LLVMFuzzerTestOneInput(const uint8_t *, size_t)`.
public typealias FuzzEntry = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer's driver with this process's arguments and exits with its status.
///
/// SwiftPM links an executable target with `main` aliased to `<Target>_main`, so the `main` in libFuzzer's
/// runtime is never linked and a target of only `@_cdecl("LLVMFuzzerTestOneInput")` fails to link. Each
/// target's `@main` calls this instead, which does what libFuzzer's `main` does.
public func runLibFuzzer(_ entry: FuzzEntry) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, entry))
}

/// The input libFuzzer passed, as a buffer (libFuzzer may pass a null pointer for the empty input).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}

/// Calls `body` with a copy of `bytes` in a heap block of exactly that size. Release builds do not check
/// the bounds of unsafe buffers, so this is what lets AddressSanitizer report a parser reading past the end
/// of a prefix of the input (libFuzzer already passes the whole input in an exactly sized block).
public func withExactCopy<Result>(
    _ bytes: some Collection<UInt8>,
    _ body: (UnsafeRawBufferPointer) throws -> Result
) rethrows -> Result {
    let count = bytes.count
    guard count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    defer { block.deallocate() }
    block.copyBytes(from: bytes)
    return try body(UnsafeRawBufferPointer(block))
}
