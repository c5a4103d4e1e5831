//! `describe()`: the description Kafka Streams gives of the same topology, with its nodes,
//! topics and stores in the order Java's collections list them.

use std::collections::HashMap;

use super::Topology;
use super::description::{
    GlobalStoreDescription, NodeDescription, NodeDescriptionKind, SubtopologyDescription,
    TopologyDescription,
};
use super::node::{NodeKind, SinkTopic};

impl Topology {
    /// Describes the topology in Kafka Streams' `TopologyDescription` format.
    pub fn describe(&self) -> TopologyDescription {
        describe(self)
    }
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe().to_string())
    }
}

/// Java's `String.hashCode`, over UTF-16 code units.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The iteration order of `new HashSet<>(items)` in Java: by bucket, then insertion order.
pub(crate) fn java_hash_set_order(items: &[String]) -> Vec<String> {
    let wanted = (items.len() as f32 / 0.75) as usize + 1;
    let cap = wanted.max(16).next_power_of_two();
    let mut seen: Vec<&String> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    let mut keyed: Vec<(usize, usize, &String)> = seen
        .into_iter()
        .enumerate()
        .map(|(pos, s)| {
            let h = java_string_hash(s) as u32;
            let spread = h ^ (h >> 16);
            ((spread as usize) & (cap - 1), pos, s)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, s)| s.clone()).collect()
}

/// Java's `TreeSet` with a comparator, reproduced node for node: Kafka builds a node's
/// predecessor and successor sets while sub-tree sizes are still changing, so the order it
/// prints depends on the red-black tree's shape at each insertion, not only on final sizes.
#[derive(Default)]
struct JavaTreeSet {
    nodes: Vec<TreeEntry>,
    root: Option<usize>,
}

struct TreeEntry {
    key: usize,
    left: Option<usize>,
    right: Option<usize>,
    parent: Option<usize>,
    red: bool,
}

impl JavaTreeSet {
    fn insert(&mut self, key: usize, cmp: &dyn Fn(usize, usize) -> std::cmp::Ordering) {
        use std::cmp::Ordering::{Equal, Less};
        let Some(mut t) = self.root else {
            self.nodes.push(TreeEntry {
                key,
                left: None,
                right: None,
                parent: None,
                red: false,
            });
            self.root = Some(self.nodes.len() - 1);
            return;
        };
        let (parent, ord) = loop {
            let ord = cmp(key, self.nodes[t].key);
            let next = match ord {
                Equal => return,
                Less => self.nodes[t].left,
                _ => self.nodes[t].right,
            };
            match next {
                Some(n) => t = n,
                None => break (t, ord),
            }
        };
        self.nodes.push(TreeEntry {
            key,
            left: None,
            right: None,
            parent: Some(parent),
            red: true,
        });
        let e = self.nodes.len() - 1;
        if ord == Less {
            self.nodes[parent].left = Some(e);
        } else {
            self.nodes[parent].right = Some(e);
        }
        self.fix_after_insertion(e);
    }

    fn parent(&self, x: Option<usize>) -> Option<usize> {
        x.and_then(|x| self.nodes[x].parent)
    }
    fn left(&self, x: Option<usize>) -> Option<usize> {
        x.and_then(|x| self.nodes[x].left)
    }
    fn right(&self, x: Option<usize>) -> Option<usize> {
        x.and_then(|x| self.nodes[x].right)
    }
    fn is_red(&self, x: Option<usize>) -> bool {
        x.is_some_and(|x| self.nodes[x].red)
    }
    fn set_red(&mut self, x: Option<usize>, red: bool) {
        if let Some(x) = x {
            self.nodes[x].red = red;
        }
    }

    fn rotate_left(&mut self, p: Option<usize>) {
        let Some(p) = p else { return };
        let Some(r) = self.nodes[p].right else { return };
        self.nodes[p].right = self.nodes[r].left;
        if let Some(rl) = self.nodes[r].left {
            self.nodes[rl].parent = Some(p);
        }
        self.nodes[r].parent = self.nodes[p].parent;
        match self.nodes[p].parent {
            None => self.root = Some(r),
            Some(pp) if self.nodes[pp].left == Some(p) => self.nodes[pp].left = Some(r),
            Some(pp) => self.nodes[pp].right = Some(r),
        }
        self.nodes[r].left = Some(p);
        self.nodes[p].parent = Some(r);
    }

    fn rotate_right(&mut self, p: Option<usize>) {
        let Some(p) = p else { return };
        let Some(l) = self.nodes[p].left else { return };
        self.nodes[p].left = self.nodes[l].right;
        if let Some(lr) = self.nodes[l].right {
            self.nodes[lr].parent = Some(p);
        }
        self.nodes[l].parent = self.nodes[p].parent;
        match self.nodes[p].parent {
            None => self.root = Some(l),
            Some(pp) if self.nodes[pp].right == Some(p) => self.nodes[pp].right = Some(l),
            Some(pp) => self.nodes[pp].left = Some(l),
        }
        self.nodes[l].right = Some(p);
        self.nodes[p].parent = Some(l);
    }

    /// `TreeMap.fixAfterInsertion`, from CLR.
    fn fix_after_insertion(&mut self, e: usize) {
        let mut x = Some(e);
        while x.is_some() && x != self.root && self.is_red(self.parent(x)) {
            let px = self.parent(x);
            let gx = self.parent(px);
            if px == self.left(gx) {
                let y = self.right(gx);
                if self.is_red(y) {
                    self.set_red(px, false);
                    self.set_red(y, false);
                    self.set_red(gx, true);
                    x = gx;
                } else {
                    if x == self.right(px) {
                        x = px;
                        self.rotate_left(x);
                    }
                    let px = self.parent(x);
                    let gx = self.parent(px);
                    self.set_red(px, false);
                    self.set_red(gx, true);
                    self.rotate_right(gx);
                }
            } else {
                let y = self.left(gx);
                if self.is_red(y) {
                    self.set_red(px, false);
                    self.set_red(y, false);
                    self.set_red(gx, true);
                    x = gx;
                } else {
                    if x == self.left(px) {
                        x = px;
                        self.rotate_right(x);
                    }
                    let px = self.parent(x);
                    let gx = self.parent(px);
                    self.set_red(px, false);
                    self.set_red(gx, true);
                    self.rotate_left(gx);
                }
            }
        }
        let root = self.root;
        self.set_red(root, false);
    }

    fn in_order(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = Vec::new();
        let mut cur = self.root;
        while cur.is_some() || !stack.is_empty() {
            while let Some(c) = cur {
                stack.push(c);
                cur = self.nodes[c].left;
            }
            if let Some(c) = stack.pop() {
                out.push(self.nodes[c].key);
                cur = self.nodes[c].right;
            }
        }
        out
    }
}

/// Java's `HashMap` capacity after inserting `n` entries into a default (16) map.
fn java_hash_map_capacity(n: usize) -> usize {
    let mut cap = 16;
    while n > cap * 3 / 4 {
        cap *= 2;
    }
    cap
}

fn java_bucket(s: &str, cap: usize) -> usize {
    let h = java_string_hash(s) as u32;
    ((h ^ (h >> 16)) as usize) & (cap - 1)
}

fn describe(t: &Topology) -> TopologyDescription {
    use std::cell::RefCell;

    let mut subtopologies = Vec::new();
    let mut global_stores = Vec::new();
    for (id, group) in t.subtopologies().into_iter().enumerate() {
        if let Some(g) = t.global_stores.iter().find(|g| group.contains(&g.source)) {
            let source = &t.nodes[g.source];
            let processor = &t.nodes[g.processor];
            let topics = match &source.kind {
                NodeKind::Source { topics } => java_hash_set_order(topics),
                _ => Vec::new(),
            };
            global_stores.push(GlobalStoreDescription {
                id: id as u32,
                source: NodeDescription {
                    name: source.name.to_string(),
                    kind: NodeDescriptionKind::Source { topics },
                    predecessors: Vec::new(),
                    successors: vec![processor.name.to_string()],
                },
                processor: NodeDescription {
                    name: processor.name.to_string(),
                    kind: NodeDescriptionKind::Processor {
                        stores: java_hash_set_order(&processor.stores),
                    },
                    predecessors: vec![source.name.to_string()],
                    successors: Vec::new(),
                },
            });
            continue;
        }
        // Kafka's `describeSubtopology`: visit the nodes in `HashMap` order; for each, link it
        // to its predecessors and add its sub-tree size to all of theirs. The sets use the
        // sizes of the moment, so this replays the same steps.
        let size: RefCell<HashMap<usize, usize>> =
            RefCell::new(group.iter().map(|&i| (i, 1)).collect());
        let cmp = |a: usize, b: usize| {
            if a == b {
                return std::cmp::Ordering::Equal;
            }
            let s = size.borrow();
            let (sa, sb) = (s[&a], s[&b]);
            sb.cmp(&sa)
                .then_with(|| t.nodes[a].name.cmp(&t.nodes[b].name))
        };
        let mut preds: HashMap<usize, JavaTreeSet> = HashMap::new();
        let mut succs: HashMap<usize, JavaTreeSet> = HashMap::new();
        let cap = java_hash_map_capacity(group.len());
        let mut visit = group.clone();
        visit.sort_by_key(|&i| (java_bucket(&t.nodes[i].name, cap), i));
        fn update_size(
            node: usize,
            delta: usize,
            size: &RefCell<HashMap<usize, usize>>,
            preds: &HashMap<usize, JavaTreeSet>,
        ) {
            if let Some(s) = size.borrow_mut().get_mut(&node) {
                *s += delta;
            }
            if let Some(p) = preds.get(&node) {
                for q in p.in_order() {
                    update_size(q, delta, size, preds);
                }
            }
        }
        for &node in &visit {
            for &pred in &t.nodes[node].parents {
                preds.entry(node).or_default().insert(pred, &cmp);
                succs.entry(pred).or_default().insert(node, &cmp);
                let delta = size.borrow()[&node];
                update_size(pred, delta, &size, &preds);
            }
        }
        let mut members = group.clone();
        members.sort_by(|a, b| cmp(*a, *b));
        let names = |set: Option<&JavaTreeSet>| {
            set.map(|s| {
                s.in_order()
                    .into_iter()
                    .map(|i| t.nodes[i].name.to_string())
                    .collect()
            })
            .unwrap_or_default()
        };
        let nodes = members
            .into_iter()
            .map(|i| {
                let def = &t.nodes[i];
                let kind = match &def.kind {
                    NodeKind::Source { topics } => NodeDescriptionKind::Source {
                        topics: java_hash_set_order(topics),
                    },
                    NodeKind::Processor => NodeDescriptionKind::Processor {
                        stores: java_hash_set_order(&def.stores),
                    },
                    NodeKind::Sink {
                        topic: SinkTopic::Fixed(topic),
                    } => NodeDescriptionKind::Sink {
                        topic: topic.clone(),
                    },
                    NodeKind::Sink {
                        topic: SinkTopic::Extractor(e),
                    } => NodeDescriptionKind::DynamicSink {
                        extractor: e.clone(),
                    },
                };
                NodeDescription {
                    name: def.name.to_string(),
                    kind,
                    predecessors: names(preds.get(&i)),
                    successors: names(succs.get(&i)),
                }
            })
            .collect();
        subtopologies.push(SubtopologyDescription {
            id: id as u32,
            nodes,
        });
    }
    TopologyDescription {
        subtopologies,
        global_stores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_known_values() {
        // Values of "abc".hashCode() and "input".hashCode() in Java.
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello world"), 1794106052);
    }

    #[test]
    fn hash_set_order_is_by_bucket() {
        // "b" (98) lands in bucket 2, "a" (97) in bucket 1, "q" (113) in bucket 1 too (113 & 15 = 1).
        let order = java_hash_set_order(&["b".into(), "q".into(), "a".into()]);
        assert_eq!(
            order,
            vec!["q".to_string(), "a".to_string(), "b".to_string()]
        );
    }
}
