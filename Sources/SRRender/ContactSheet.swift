import SRImage

/// A grid of equally sized tiles, each with its name drawn below it (white background).
public enum ContactSheet {
    public static func make(_ tiles: [(name: String, image: RGBImage)], columns: Int, tileSize: Int) -> RGBImage {
        let rows = (tiles.count + columns - 1) / max(columns, 1)
        let label = BitmapFont.height + 6, gap = 8
        let cellW = tileSize + gap, cellH = tileSize + label + gap
        var sheet = RGBImage(width: max(columns * cellW + gap, 1), height: max(rows * cellH + gap, 1),
                             pixels: [UInt8](repeating: 255, count: max(columns * cellW + gap, 1) * max(rows * cellH + gap, 1) * 3))
        for (k, tile) in tiles.enumerated() {
            let x0 = gap + (k % columns) * cellW, y0 = gap + (k / columns) * cellH
            let img = tile.image.width == tileSize && tile.image.height == tileSize ? tile.image
                : Resize.nearest(tile.image, width: tileSize, height: tileSize)
            for y in 0..<tileSize {
                for x in 0..<tileSize {
                    let s = (y * tileSize + x) * 3, d = ((y0 + y) * sheet.width + x0 + x) * 3
                    sheet.pixels[d] = img.pixels[s]; sheet.pixels[d + 1] = img.pixels[s + 1]; sheet.pixels[d + 2] = img.pixels[s + 2]
                }
            }
            var name = tile.name
            let maxChars = (tileSize + 1) / (BitmapFont.width + 1)
            if name.count > maxChars { name = ".." + name.suffix(maxChars - 2) }
            BitmapFont.draw(name, into: &sheet, x: x0, y: y0 + tileSize + 3, color: [30, 30, 30])
        }
        return sheet
    }
}
