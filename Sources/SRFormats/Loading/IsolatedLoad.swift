import Foundation
import SRCore

/// `ModelLoader`'s child protocol, both sides. The parent writes `request.json` (the path
/// and `ModelOptions`) into a private folder and starts `/proc/self/exe _import FOLDER` as
/// an `IsolatedChild`; the child, in `ModelLoader.serveIsolatedChildIfRequested()`, imports
/// the model in-process, writes it as `model.srm` and `answer.json` (the notices, or the
/// `SRError` it met) and exits. The parent maps the `.srm` and returns the notices, or
/// throws the child's error as its own, so a caller sees the same notices and errors as an
/// in-process load; a crash or hang is `IsolatedChild`'s one error line.
enum IsolatedLoad {
    static let command = "_import"

    struct Request: Codable {
        var path: String
        var options: ModelOptions
    }

    struct Answer: Codable {
        var notices: [String] = []
        var error: SRError?
    }

    /// The parent's side.
    static func load(path: String, options: ModelOptions) throws -> LoadedModel {
        try IsolatedChild.inPrivateFolder { folder in
            do { try JSONEncoder().encode(Request(path: path, options: options)).write(to: file(folder, "request.json")) } catch {
                throw SRError.cannotWrite("cannot write a temporary file in \(folder): \(systemReason(error))")
            }
            do {
                _ = try IsolatedChild.run([command, folder], timeLimit: IsolatedChild.timeLimit(forFile: path), subject: path)
            } catch let failed as IsolatedChild.Failed {
                // The child's own error, unless it died before it could say it (e.g. out of memory).
                if let error = answer(folder)?.error { throw error }
                throw failed
            }
            guard let answer = answer(folder) else {
                throw SRError.internalError("the child reading \(path) left no answer")
            }
            return LoadedModel(graph: try SRMFile.load(path: folder + "/model.srm", limits: options.limits), notices: answer.notices)
        }
    }

    /// The child's side: when this process was started as `_import FOLDER` by a parent,
    /// answers the request and exits.
    static func serveIfRequested() {
        let arguments = CommandLine.arguments
        guard IsolatedChild.inChild, arguments.count == 3, arguments[1] == command else { return }
        IsolatedChild.enter()
        let folder = arguments[2]
        var answer = Answer()
        do {
            let request = try JSONDecoder().decode(Request.self, from: Data(contentsOf: file(folder, "request.json")))
            let loaded = try ModelLoader.loadInProcess(path: request.path, options: request.options)
            try SRMFile.write(loaded.graph, to: folder + "/model.srm")
            answer.notices = loaded.notices
        } catch let error as SRError {
            answer.error = error
        } catch {
            answer.error = .internalError("the child reading a model failed: \(error)")
        }
        guard (try? JSONEncoder().encode(answer).write(to: file(folder, "answer.json"))) != nil else { exit(70) }
        exit(answer.error == nil ? 0 : 1)
    }

    private static func file(_ folder: String, _ name: String) -> URL { URL(fileURLWithPath: folder + "/" + name) }

    private static func answer(_ folder: String) -> Answer? {
        guard let data = try? Data(contentsOf: file(folder, "answer.json")) else { return nil }
        return try? JSONDecoder().decode(Answer.self, from: data)
    }
}
