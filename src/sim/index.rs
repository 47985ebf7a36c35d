//! The open-order listing of one account (or one of its markets or tokens): order numbers in
//! creation order plus a Fenwick tree of which are still open, so the page at any offset is found
//! in O(page · log n) however many orders were canceled before it.

/// Orders in creation order, with a count of open ones per Fenwick range.
#[derive(Clone, Debug, Default)]
pub struct OpenIndex {
    /// Order numbers (indexes into the exchange's order table), ascending.
    orders: Vec<u32>,
    /// 1-based Fenwick tree over `orders`: 1 where the order is open.
    tree: Vec<u32>,
    open: usize,
}

impl OpenIndex {
    /// Builds the index over `orders` (ascending), `is_open` telling which are open now.
    pub fn build(orders: Vec<u32>, is_open: impl Fn(u32) -> bool) -> OpenIndex {
        debug_assert!(orders.windows(2).all(|w| w[0] < w[1]));
        let n = orders.len();
        let mut tree = vec![0u32; n + 1];
        let mut open = 0;
        for (i, &order) in orders.iter().enumerate() {
            if is_open(order) {
                tree[i + 1] += 1;
                open += 1;
            }
        }
        // Linear-time Fenwick construction: push each node's sum into its parent.
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                tree[parent] += tree[i];
            }
        }
        OpenIndex { orders, tree, open }
    }

    /// How many orders are open.
    pub fn open_len(&self) -> usize {
        self.open
    }

    /// Every order number in the index, open or not, in creation order.
    pub fn all_orders(&self) -> &[u32] {
        &self.orders
    }

    /// Marks an open order closed. The caller guarantees it was open (statuses only move from
    /// open to closed once); unknown orders are ignored.
    pub fn close(&mut self, order: u32) {
        let Ok(position) = self.orders.binary_search(&order) else {
            return;
        };
        let mut i = position + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].saturating_sub(1);
            i += i & i.wrapping_neg();
        }
        self.open = self.open.saturating_sub(1);
    }

    /// The open orders at positions `offset..offset + limit` of the open listing.
    pub fn page(&self, offset: usize, limit: usize) -> Vec<u32> {
        let end = offset.saturating_add(limit).min(self.open);
        (offset..end).filter_map(|rank| self.select(rank)).collect()
    }

    /// The open order of 0-based rank `rank` (binary lifting over the tree).
    fn select(&self, rank: usize) -> Option<u32> {
        let n = self.orders.len();
        let mut remaining = u32::try_from(rank).ok()? + 1;
        let mut position = 0usize;
        let mut step = n.checked_ilog2().map_or(0, |log| 1usize << log);
        while step > 0 {
            let next = position + step;
            if next <= n && self.tree[next] < remaining {
                position = next;
                remaining -= self.tree[next];
            }
            step >>= 1;
        }
        self.orders.get(position).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_skip_closed_orders_and_stay_in_creation_order() {
        let mut index = OpenIndex::build((0..20).collect(), |o| o % 5 != 0);
        assert_eq!(index.open_len(), 16);
        assert_eq!(index.page(0, 4), vec![1, 2, 3, 4]);
        assert_eq!(index.page(4, 4), vec![6, 7, 8, 9]);
        index.close(7);
        index.close(8);
        assert_eq!(index.open_len(), 14);
        assert_eq!(index.page(4, 4), vec![6, 9, 11, 12]);
        assert_eq!(index.page(13, 10), vec![19]);
        assert!(index.page(14, 10).is_empty());
        assert!(index.page(usize::MAX, 10).is_empty());
    }

    #[test]
    fn empty_and_fully_closed_indexes_have_no_pages() {
        assert!(OpenIndex::default().page(0, 10).is_empty());
        let mut index = OpenIndex::build(vec![3, 9], |_| true);
        index.close(3);
        index.close(9);
        assert!(index.page(0, 10).is_empty());
    }

    #[test]
    fn select_matches_a_naive_scan() {
        let orders: Vec<u32> = (0..1000).map(|i| i * 3).collect();
        let open = |o: u32| (o / 3) % 7 != 3 && !(o / 3).is_multiple_of(11);
        let index = OpenIndex::build(orders.clone(), open);
        let naive: Vec<u32> = orders.into_iter().filter(|&o| open(o)).collect();
        for offset in [0, 1, 100, 499, 700, naive.len() - 1] {
            let expected: Vec<u32> = naive.iter().skip(offset).take(37).copied().collect();
            assert_eq!(index.page(offset, 37), expected, "offset {offset}");
        }
    }
}
