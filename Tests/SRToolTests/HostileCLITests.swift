import Foundation
import SRTestSupport
import XCTest

/// The second round of hostile input (memory bombs, outputs onto devices and links, script
/// in the report, names on the terminal and in file names, interrupted folder outputs, the
/// import child outliving srtool, FIFOs): each test failed on the code before the fix.
/// The corpus cases (`Fixtures/malformed`: huge initializers, activation and MAC bombs,
/// opset 999, a name with ANSI codes, a negative Keras `filters`) run in CLITests under a
/// 4 GiB address-space limit.
final class HostileCLITests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "srtool-hostile-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private let bomb = ["Fixtures/malformed/activation_bomb.onnx", "--input", "Fixtures/malformed/activation_bomb_input.npy"]
    private let bundled = ["Fixtures/bundled/shapes.onnx", "--image", "Fixtures/bundled/samples/circle_1.png"]

    /// A 2^31-element activation from a 142-byte model: refused by the run budget in one
    /// line naming the tensor; an allocation that fails anyway is one line and exit 71.
    func testMemoryBudgetRefusesInOneLine() throws {
        let refused = try CLI.run(["run"] + bomb + ["--max-memory", "1G"])
        XCTAssertEqual(refused.code, 65, refused.stderr)
        XCTAssertEqual(refused.errorLines, ["srtool: error: the run needs 8.46 GB of activations at batch 1, more than the budget of 1 GB "
                                            + "(--max-memory); the largest is 'y' [1, 1, 46001, 46001] (8.46 GB)"])
        // Under a 4 GiB address-space limit the default budget follows the limit.
        let capped = try CLI.run(["run"] + bomb, addressSpaceLimit: 4 << 20)
        XCTAssertEqual(capped.code, 65, capped.stderr)
        XCTAssertEqual(capped.errorLines.count, 1, capped.stderr)
        // A budget larger than the memory there is: the allocation fails, cleanly.
        let failed = try CLI.run(["run"] + bomb + ["--max-memory", "100G", "-o", dir + "/y.npy"], addressSpaceLimit: 4 << 20)
        XCTAssertEqual(failed.code, 71, failed.stderr)
        XCTAssertEqual(failed.errorLines, ["srtool: error: out of memory: cannot allocate 8464368004 bytes (lower --max-memory, or give srtool more memory)"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        // inspect shows the budget and the model's need.
        let shown = try CLI.run(["inspect", bomb[0], "--max-memory", "2G"])
        XCTAssertTrue(shown.stdout.contains("run budget: 1,000,000,000,000 MACs per image (--max-macs), 2,000 MB of activations (--max-memory); "
                                            + "this model's forward pass peaks at 8,464 MB per image"), shown.stdout)
        XCTAssertEqual(try CLI.run(["run"] + bundled + ["--max-macs", "1000"]).code, 65)
        XCTAssertEqual(try CLI.run(["run"] + bundled + ["--max-memory", "lots"]).code, 64)
    }

    /// `-o` onto a character device, a FIFO, a symbolic link, stdout and a folder.
    func testOutputsOntoDevicesLinksAndFolders() throws {
        // /dev/null stays the device (as root, the rename used to replace it).
        let null = try CLI.run(["run"] + bundled + ["-o", "/dev/null"])
        XCTAssertEqual(null.code, 0, null.stderr)
        var st = stat()
        XCTAssertEqual(lstat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is no longer a character device")
        // A symbolic link stays a link; the file it names gets the output.
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/real.npy"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.npy", withDestinationPath: "real.npy")
        XCTAssertEqual(try CLI.run(["run"] + bundled + ["-o", dir + "/link.npy"]).code, 0)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.npy"), "real.npy")
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: dir + "/real.npy")).starts(with: [0x93] + Array("NUMPY".utf8)))
        // A FIFO is written in place, to whoever reads it.
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o600), 0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [dir + "/pipe"]
        let received = Pipe()
        reader.standardOutput = received
        try reader.run()
        XCTAssertEqual(try CLI.run(["run"] + bundled + ["-o", dir + "/pipe"], timeout: 20).code, 0)
        let bytes = received.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        XCTAssertEqual(bytes.count, 128 + 16, "a [1, 4] float32 .npy")
        XCTAssertEqual(lstat(dir + "/pipe", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        // `-` is standard output.
        let stdout = try CLI.run(["run"] + bundled + ["-o", "-"])
        XCTAssertTrue(stdout.stdout.contains("NUMPY"), stdout.stderr)
        // /dev/stdout (a link through /proc to the pipe) is written in place too.
        let devStdout = try CLI.run(["run"] + bundled + ["-o", "/dev/stdout"])
        XCTAssertEqual(devStdout.code, 0, devStdout.stderr)
        XCTAssertTrue(devStdout.stdout.contains("NUMPY"), devStdout.stderr)
        // A folder is refused in one line.
        let folder = try CLI.run(["run"] + bundled + ["-o", dir])
        XCTAssertEqual(folder.code, 73)
        XCTAssertEqual(folder.errorLines, ["srtool: error: cannot write \(dir): it is a folder"])
    }

    /// Node names and labels carrying HTML, ANSI codes and unsafe file names
    /// (Fixtures/hostile, Tools/make_hostile_fixtures.py): the report shows them as text
    /// under a script-forbidding policy (Tools/check_report also opens it in Chromium),
    /// the terminal sees escapes, and each tensor gets a file of its own.
    func testHostileNamesStayText() throws {
        let model = "Fixtures/hostile/names.onnx", input = ["--input", "Fixtures/hostile/input.npy"]
        let render = try CLI.run(["render", model] + input + ["--out", dir + "/report"])
        XCTAssertEqual(render.code, 0, render.stderr)
        let html = try String(contentsOfFile: dir + "/report/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"), html)
        XCTAssertFalse(html.lowercased().contains("<script"), "the report holds a script element")
        XCTAssertFalse(html.contains("<img src=x"), "a node name became markup")
        XCTAssertTrue(html.contains("&lt;img src=x onerror=&quot;document.body.dataset.pwned=&#39;img&#39;&quot;&gt;"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/report/layers").sorted(),
                       ["_._up.png", "a_b.png", "a_b~2.png", "bell_.png"])

        for arguments in [["inspect", model], ["inspect", model, "--layer", "../up"], ["predict", model] + input,
                          ["explain", model] + input] {
            let r = try CLI.run(arguments)
            for text in [r.stdout, r.stderr] {
                XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F },
                               "\(arguments[0]): a control character reached the terminal: \(text.debugDescription)")
            }
        }
        let inspect = try CLI.run(["inspect", model])
        XCTAssertTrue(inspect.stdout.contains("red\\n\\e[31mALERT\\e[0m\\r"), inspect.stdout)

        let dump = try CLI.run(["run", model] + input + ["--dump", dir + "/dump"])
        XCTAssertEqual(dump.code, 0, dump.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/dump").sorted(),
                       [".srtool-output", "_._up.npy", "a_b.npy", "a_b~2.npy", "bell_.npy", "flat.npy", "input.npy", "logits.npy", "pooled.npy"])
    }

    /// `render --out` over an earlier report of another model keeps none of its files; a
    /// folder srtool did not write is refused, not replaced; a render killed at any moment
    /// leaves the folder with one complete run, and the next run clears its staging folder.
    func testFolderOutputsHoldExactlyOneRun() throws {
        let out = dir + "/report"
        XCTAssertEqual(try CLI.run(["render"] + bundled + ["--out", out]).code, 0)
        let first = try FileManager.default.contentsOfDirectory(atPath: out + "/layers").sorted()
        XCTAssertEqual(first.count, 11)
        let hostile = try CLI.run(["render", "Fixtures/hostile/names.onnx", "--input", "Fixtures/hostile/input.npy", "--out", out])
        XCTAssertEqual(hostile.code, 0, hostile.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/layers").sorted(), ["_._up.png", "a_b.png", "a_b~2.png", "bell_.png"])

        try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/mine/notes.txt"))
        let refused = try CLI.run(["render"] + bundled + ["--out", dir + "/mine"])
        XCTAssertEqual(refused.code, 73)
        XCTAssertEqual(refused.errorLines, ["srtool: error: cannot write folder \(dir)/mine: it exists and holds files srtool did not write "
                                            + "(no .srtool-output); choose a new folder or empty it"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/mine"), ["notes.txt"])

        let hostileFiles = try FileManager.default.contentsOfDirectory(atPath: out + "/layers").sorted()
        for i in 0..<6 {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = ["render"] + bundled + ["--sr", "--out", out]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(UInt32(50_000 + i * 60_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let layers = try FileManager.default.contentsOfDirectory(atPath: out + "/layers").sorted()
            XCTAssertTrue(layers == hostileFiles || layers == first, "kill \(i): the folder mixes runs: \(layers)")
            if layers == first { break }
        }
        XCTAssertEqual(try CLI.run(["render"] + bundled + ["--out", out]).code, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["mine", "report"], "a staging folder was left")
    }

    /// A model read by the libhdf5 child: its notices are said once, after the load; its
    /// error is said as srtool's own, with the same exit code; also for a model on stdin.
    func testImportChildNoticesAndErrorsAreSrtools() throws {
        let loaded = try CLI.run(["inspect", "Fixtures/caffe/resnet_block/resnet_block.caffemodel.h5"])
        XCTAssertEqual(loaded.code, 0, loaded.stderr)
        XCTAssertEqual(loaded.errorLines, ["srtool: using deploy prototxt Fixtures/caffe/resnet_block/deploy.prototxt (found beside resnet_block.caffemodel.h5; --prototxt overrides)"])
        let failed = try CLI.run(["inspect", "Fixtures/malformed/keras_unknown_class.h5"])
        XCTAssertEqual(failed.code, 69)
        XCTAssertEqual(failed.errorLines, ["srtool: error: layer 'conv1' has class 'Conv3D', which srtool does not support"])
        let stdin = try CLI.run(["inspect", "-"], stdin: FileHandle(forReadingAtPath: Fixtures.path("caffe/resnet_block/resnet_block.caffemodel.h5")))
        XCTAssertEqual(stdin.code, 64)
        XCTAssertEqual(stdin.errorLines.count, 1)
        XCTAssertTrue(stdin.errorLines.first?.hasSuffix("/stdin: Caffe-HDF5 weights carry no network; give its deploy prototxt with --prototxt") ?? false, stdin.stderr)
    }

    /// SIGKILL of srtool while its libhdf5 child spins on a crafted file: the child dies too.
    func testImportChildDiesWithSrtool() throws {
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["inspect", "Fixtures/malformed/hdf5_hang.h5"]
        p.currentDirectoryURL = Fixtures.root.deletingLastPathComponent()
        p.environment = ProcessInfo.processInfo.environment.merging(["SRTOOL_HDF5_TIMEOUT": "120"]) { _, new in new }
        p.standardError = FileHandle.nullDevice
        try p.run()
        var children: [Int32] = []
        for _ in 0..<100 where children.isEmpty {
            usleep(50_000)
            children = importChildren(of: p.processIdentifier)
        }
        XCTAssertFalse(children.isEmpty, "no import child seen")
        usleep(500_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && children.contains(where: { kill($0, 0) == 0 }) { usleep(50_000) }
        for child in children where kill(child, 0) == 0 {
            kill(child, SIGKILL)
            XCTFail("the import child \(child) outlived srtool")
        }
    }

    /// Processes whose parent is `parent` and whose command line has `_import`.
    private func importChildren(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmdline, as: UTF8.self).contains("_import")
        }
    }

    /// A FIFO, a device or a folder where a file is read: one line, exit 66, no hang. A
    /// model may come on standard input as `-`.
    func testInputsMustBeRegularFiles() throws {
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o600), 0)
        for (arguments, line) in [
            (["inspect", dir + "/fifo"], "\(dir)/fifo: a FIFO, not a regular file"),
            (["inspect", "/dev/zero"], "/dev/zero: a device, not a regular file"),
            (["inspect", dir], "\(dir): a folder, not a file"),
            (["run", "Fixtures/bundled/shapes.onnx", "--input", dir + "/fifo"], "\(dir)/fifo: a FIFO, not a regular file"),
            (["run", "Fixtures/bundled/shapes.onnx", "--image", dir + "/fifo"], "\(dir)/fifo: a FIFO, not a regular file"),
            (["predict"] + bundled + ["--labels", "/dev/zero"], "/dev/zero: a device, not a regular file"),
        ] {
            let r = try CLI.run(arguments, timeout: 10)
            XCTAssertEqual(r.code, 66, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.errorLines, ["srtool: error: " + line])
        }
        let stdin = try FileHandle(forReadingFrom: Fixtures.root.appendingPathComponent("bundled/shapes.onnx"))
        let piped = try CLI.run(["predict", "-", "--image", "Fixtures/bundled/samples/circle_1.png", "--top", "1"], stdin: stdin)
        XCTAssertEqual(piped.code, 0, piped.stderr)
        XCTAssertTrue(piped.stdout.contains("circle"), piped.stdout)
        let convert = try CLI.run(["convert", "-"], stdin: FileHandle.nullDevice)
        XCTAssertEqual(convert.errorLines, ["srtool: error: a model read from standard input needs -o OUT.srm or -o OUT.onnx"])
    }
}
