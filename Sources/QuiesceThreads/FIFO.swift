/// Work waiting its turn, first in first out: taken from a head that moves on, the storage kept
/// and reused once everything in it has been taken (the pool's and a serial queue's jobs come and
/// go in bursts; nothing is copied to take one).
///
/// Not thread-safe: its owner keeps it under its own lock.
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    /// The item ``removeFirst()`` would return, left in place.
    var first: Element? { head < items.count ? items[head] : nil }

    mutating func append(_ item: Element) {
        items.append(item)
    }

    /// The oldest element, removed; nil when empty.
    mutating func removeFirst() -> Element? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }
}
