import Foundation
import SRCore
import SRFormats
import SRTestSupport
import XCTest

/// `batch` and `merge` end to end: sharding by the schedulers' variables through the deploy
/// examples in Tools/deploy, kill -9 and resume, merging, the ViRelAy layout, bad images,
/// changed options.
final class BatchCLITests: XCTestCase {
    let dir = NSTemporaryDirectory() + "srtool-batch-\(getpid())"
    let model = "Fixtures/bundled/shapes.onnx"
    var repository: String { Fixtures.root.deletingLastPathComponent().path }

    override func setUp() { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A folder of `copies` × the 16 bundled sample images and masks (`00_circle_0.png`, …).
    private func dataset(_ name: String, copies: Int) throws -> String {
        let folder = dir + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let samples = Fixtures.path("bundled/samples")
        for file in try FileManager.default.contentsOfDirectory(atPath: samples) where file.hasSuffix(".png") {
            for c in 0..<copies {
                // The masks too, as images (a folder's *_mask.png would be left out as masks).
                let name = file.replacingOccurrences(of: "_mask.png", with: "-m.png")
                try FileManager.default.copyItem(atPath: samples + "/" + file, toPath: folder + String(format: "/%02d_", c) + name)
            }
        }
        return folder
    }

    /// A process started and left running (the shards run side by side).
    private func start(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: repository)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func lines(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Four shards as four processes — two through the Slurm script with an array starting
    /// at 1, two through the Kubernetes manifest's command with JOB_COMPLETION_INDEX —, one
    /// killed with SIGKILL mid-way and started again; the merge is byte for byte the merge
    /// of a one-process run.
    func testFourShardsKilledResumedAndMergedEqualOneProcess() throws {
        let images = try dataset("images", copies: 12)  // 192 images, 48 per shard
        let out = dir + "/out"
        let options = "--batch 1 --quiet --threads 1"
        let slurm = ["MODEL": model, "IMAGES": images, "OUT": out, "SRTOOL": CLI.binary.path, "SLURM_ARRAY_TASK_MIN": "1",
                     "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_CPUS_PER_TASK": "1", "SRTOOL_BATCH_OPTIONS": options]
        func slurmTask(_ i: Int) throws -> Process {
            try start("/bin/bash", ["Tools/deploy/slurm-array.sh"], environment: slurm.merging(["SLURM_ARRAY_TASK_ID": "\(i + 1)"]) { _, n in n })
        }
        // The manifest's container command, with the volume at `dir`.
        let manifest = try String(contentsOfFile: repository + "/Tools/deploy/kubernetes-indexed-job.yaml", encoding: .utf8)
        XCTAssertTrue(manifest.contains("completionMode: Indexed") && manifest.contains("completions: 4"))
        let line = try XCTUnwrap(manifest.split(separator: "\n").first { $0.contains("command: [") })
        let json = line[line.firstIndex(of: "[")!...]
        var command = try JSONDecoder().decode([String].self, from: Data(json.utf8))
        XCTAssertEqual(Array(command.prefix(2)), ["srtool", "batch"])
        command = command.dropFirst().map {
            $0 == "/data/model.onnx" ? model : $0 == "/data/images" ? images : $0 == "/data/out" ? out : $0
        } + options.split(separator: " ").map(String.init)
        func kubernetesPod(_ i: Int) throws -> Process {
            try start(CLI.binary.path, command, environment: ["JOB_COMPLETION_INDEX": "\(i)"])
        }

        let shards = [try slurmTask(0), try slurmTask(1), try kubernetesPod(2), try kubernetesPod(3)]
        let journal = out + "/attribution-1-of-4.partial/journal"
        let deadline = Date().addingTimeInterval(60)
        while lines(journal) < 6 && shards[1].isRunning && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(shards[1].isRunning, "shard 1 finished before it could be killed")
        kill(shards[1].processIdentifier, SIGKILL)
        for p in shards { p.waitUntilExit() }
        XCTAssertEqual(shards[1].terminationReason, .uncaughtSignal)
        for i in [0, 2, 3] { XCTAssertEqual(shards[i].terminationStatus, 0, "shard \(i)") }
        let done = lines(journal) - 1

        let early = try CLI.run(["merge", out, "-o", dir + "/all.h5"])
        XCTAssertEqual(early.code, 66, early.stderr)
        XCTAssertEqual(early.errorLines, ["srtool: error: part 1 of 4 is incomplete (\(out)/attribution-1-of-4.partial is still there); run shard 1 again with the same command to finish it"])

        let again = try CLI.run(["batch", model, "--images", images, "--out", out, "--shards", "4"] + options.split(separator: " ").map(String.init),
                                environment: ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1"])
        XCTAssertEqual(again.code, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("48 explained (\(48 - done) in this run)"), again.stdout + " after \(done) blocks")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/attribution-1-of-4.partial"))
        // A finished shard started again does nothing.
        let finished = try CLI.run(command, environment: ["JOB_COMPLETION_INDEX": "3"])
        XCTAssertEqual(finished.code, 0, finished.stderr)
        XCTAssertTrue(finished.stdout.contains("48 explained (0 in this run)"), finished.stdout)

        let merged = try CLI.run(["merge", out, "-o", dir + "/all.h5"])
        XCTAssertEqual(merged.code, 0, merged.stderr)
        let one = try CLI.run(["batch", model, "--images", images, "--out", dir + "/one"] + options.split(separator: " ").map(String.init))
        XCTAssertEqual(one.code, 0, one.stderr)
        let oneMerged = try CLI.run(["merge", dir + "/one", "-o", dir + "/one.h5"])
        XCTAssertEqual(oneMerged.code, 0, oneMerged.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/all.h5")), try Data(contentsOf: URL(fileURLWithPath: dir + "/one.h5")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/all.json")), try Data(contentsOf: URL(fileURLWithPath: dir + "/one.json")))
        let h5 = try HDF5File(path: dir + "/all.h5")
        XCTAssertEqual(try h5.datasetInfo("attribution")?.shape, [192, 3, 64, 64])
    }

    /// The file's layout is ViRelAy's (the bundled samples folder: 8 images, its masks left
    /// out); with --batch 1 its maps and classes are `explain`'s
    /// (one image at a time, checked against zennit in ExplainCLITests); --inputs,
    /// --heatmaps, and JSON progress lines in a log.
    func testLayoutIsViRelAysAndMapsAreExplains() throws {
        let out = dir + "/out"
        let r = try CLI.run(["batch", model, "--images", "Fixtures/bundled/samples", "--out", out, "--batch", "1", "--inputs",
                             "--heatmaps", "--progress-every", "4", "--json"])
        XCTAssertEqual(r.code, 0, r.stderr)
        let progress = r.errorLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(progress.count, 2, r.stderr)
        XCTAssertEqual(progress.last?["done"] as? Int, 8)
        XCTAssertEqual(progress.last?["shard"] as? String, "0/1")
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(summary["rows"] as? Int, 8)

        let explain = try CLI.run(["explain", model, "--image", "Fixtures/bundled/samples", "--save", dir + "/r.npy", "--json"])
        XCTAssertEqual(explain.code, 0, explain.stderr)
        let want = try NPY.read(path: dir + "/r.npy")
        let results = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(explain.stdout.utf8)) as? [String: Any])?["results"] as? [[String: Any]])

        let h5 = try HDF5File(path: out + "/attribution-0-of-1.h5")
        for (name, shape, isFloat) in [("index", [8], false), ("attribution", [8, 3, 64, 64], true), ("label", [8], false), ("prediction", [8, 4], true)] {
            let info = try XCTUnwrap(try h5.datasetInfo(name), name)
            XCTAssertEqual(info.shape, shape, name)
            XCTAssertEqual(info.isFloat, isFloat, name)
            XCTAssertEqual(info.elementSize, 4, name)
        }
        let got = Tensor(uninitialized: [8, 3, 64, 64])
        try h5.readRows("attribution", rows: 0, count: 8, element: .float32, into: got.pointer)
        XCTAssertEqual(got.values, want.values, "batch --batch 1 and explain differ")
        var labels = [UInt32](repeating: 0, count: 8), index = labels
        try h5.readRows("label", rows: 0, count: 8, element: .uint32, into: &labels)
        try h5.readRows("index", rows: 0, count: 8, element: .uint32, into: &index)
        XCTAssertEqual(labels.map(Int.init), results.map { $0["target"] as? Int ?? -1 })
        XCTAssertEqual(index, (0..<8).map(UInt32.init))
        let prediction = Tensor(uninitialized: [8, 4])
        try h5.readRows("prediction", rows: 0, count: 8, element: .float32, into: prediction.pointer)
        for (n, item) in results.enumerated() {
            XCTAssertEqual(Double(prediction.pointer[n * 4 + Int(labels[n])]), item["score"] as? Double ?? .nan, accuracy: 1e-5)
        }
        let inputs = try HDF5File(path: out + "/input-0-of-1.h5")
        XCTAssertEqual(try inputs.datasetInfo("data")?.shape, [8, 3, 64, 64])
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/attribution-0-of-1.json"))) as? [String: Any]
        XCTAssertEqual((record?["inputs"] as? [String])?.first, "Fixtures/bundled/samples/circle_0.png")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/heatmaps/cross_1.png"))
    }

    /// A corrupt and a missing image are skipped, each named in one line, listed in the
    /// record, and the run ends with exit 65 after writing the rest; --target label takes
    /// the list's labels.
    func testBadImagesAreSkippedAndListed() throws {
        let folder = dir + "/list"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/broken.png"))
        // The good images are copied beside the bad ones under names that sort last, so the
        // order does not depend on where the repository is checked out.
        let samples = repository + "/Fixtures/bundled/samples"
        try FileManager.default.copyItem(atPath: samples + "/circle_0.png", toPath: folder + "/x_circle.png")
        try FileManager.default.copyItem(atPath: samples + "/cross_0.png", toPath: folder + "/y_cross.png")
        let list = "x_circle.png\t2\nbroken.png\tsquare\ny_cross.png\t3\nmissing.png\t0\n"
        try Data(list.utf8).write(to: URL(fileURLWithPath: folder + "/list.txt"))
        let out = dir + "/out"
        let r = try CLI.run(["batch", model, "--list", folder + "/list.txt", "--out", out, "--target", "label", "--quiet"])
        XCTAssertEqual(r.code, 65, r.stderr)
        XCTAssertEqual(r.errorLines, [
            "srtool: warning: skipped \(folder)/broken.png: not a PNG or JPEG image",
            "srtool: warning: skipped \(folder)/missing.png: no such file",
            "srtool: error: 2 of 4 images were skipped (the first: \(folder)/broken.png); they are listed in \(out)/attribution-0-of-1.json",
        ])
        let h5 = try HDF5File(path: out + "/attribution-0-of-1.h5")
        var labels = [UInt32](repeating: 0, count: 2), index = labels
        try h5.readRows("label", rows: 0, count: 2, element: .uint32, into: &labels)
        try h5.readRows("index", rows: 0, count: 2, element: .uint32, into: &index)
        XCTAssertEqual(labels, [2, 3])
        // Sorted by path: broken, missing, x_circle, y_cross.
        XCTAssertEqual(index, [2, 3])
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/attribution-0-of-1.json"))) as? [String: Any]
        XCTAssertEqual((record?["failed"] as? [[String: Any]])?.map { $0["index"] as? Int }, [0, 1])
    }

    /// Other options on an existing output are refused unless --force; merge refuses
    /// missing parts and parts made with other options.
    func testChangedOptionsAndMissingPartsAreRefused() throws {
        let out = dir + "/out"
        let base = ["batch", model, "--images", "Fixtures/bundled/samples", "--out", out, "--quiet", "--shard"]
        XCTAssertEqual(try CLI.run(base + ["0/2"]).code, 0)
        let missing = try CLI.run(["merge", out, "-o", dir + "/all.h5"])
        XCTAssertEqual(missing.code, 66)
        XCTAssertEqual(missing.errorLines, ["srtool: error: part 1 of 2 is missing (no \(out)/attribution-1-of-2.h5); run shard 1"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/all.h5"))

        let changed = try CLI.run(base + ["0/2", "--composite", "epsilon-gamma-box"])
        XCTAssertEqual(changed.code, 64, changed.stderr)
        XCTAssertEqual(changed.errorLines.count, 1)
        XCTAssertTrue(changed.stderr.contains("was made with another model, method, options or input list"), changed.stderr)
        XCTAssertEqual(try CLI.run(base + ["1/2"]).code, 0)
        XCTAssertEqual(try CLI.run(base + ["0/2", "--composite", "epsilon-gamma-box", "--force"]).code, 0)
        let mixed = try CLI.run(["merge", out, "-o", dir + "/all.h5"])
        XCTAssertEqual(mixed.code, 65)
        XCTAssertEqual(mixed.errorLines.count, 1)
        XCTAssertTrue(mixed.stderr.contains("part 1 of 2 was made with another model, method, options or input list than part 0"), mixed.stderr)

        // A damaged part is read by the child srtool: one line, exit 65.
        XCTAssertEqual(try CLI.run(base + ["1/2", "--composite", "epsilon-gamma-box", "--force"]).code, 0)
        let part = out + "/attribution-1-of-2.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: part))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: part))
        let damaged = try CLI.run(["merge", out, "-o", dir + "/all.h5"])
        XCTAssertEqual(damaged.code, 65, damaged.stderr)
        XCTAssertEqual(damaged.errorLines.count, 1, damaged.stderr)
        XCTAssertTrue(damaged.stderr.hasPrefix("srtool: error: \(part)"), damaged.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/all.h5"))

        let noIndex = try CLI.run(["batch", model, "--images", "Fixtures/bundled/samples", "--out", out, "--shards", "2"],
                                  environment: ["SLURM_ARRAY_TASK_ID": "", "JOB_COMPLETION_INDEX": "5"])
        XCTAssertEqual(noIndex.code, 64)
        XCTAssertTrue(noIndex.stderr.contains("SLURM_ARRAY_TASK_ID is '', not a number"), noIndex.stderr)
    }
}
