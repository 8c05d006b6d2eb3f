//! `PathSet`: a trie of path components with allocation-free, O(depth) queries.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::normalize::{components, names, normalize, NormalizeError};

/// One node of the trie: a path component under its parent.
#[derive(Debug, Clone, Default)]
struct Node {
    /// Children sorted by the bytes of their name, for binary search.
    children: Vec<(OsString, usize)>,
    /// True when the path that ends at this node is a member.
    member: bool,
}

/// A set of normalised absolute paths with component-wise queries.
///
/// Members are absolute paths inside the sandbox; [`PathSet::insert`] normalises what it is
/// given (see [`normalize`]). Queries take absolute paths: a relative path, or one that still
/// holds `..`, is never contained (fail closed).
#[derive(Debug, Clone)]
pub struct PathSet {
    /// Node 0 is the root `/`.
    nodes: Vec<Node>,
    len: usize,
}

impl Default for PathSet {
    fn default() -> Self {
        Self::new()
    }
}

impl PathSet {
    /// An empty set: nothing is contained.
    pub fn new() -> Self {
        PathSet {
            nodes: vec![Node::default()],
            len: 0,
        }
    }

    /// Builds a set from whitelist entries, normalising each one.
    pub fn from_entries<I, P>(entries: I) -> Result<Self, NormalizeError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut set = PathSet::new();
        for entry in entries {
            set.insert(entry.as_ref())?;
        }
        Ok(set)
    }

    /// Normalises `entry` and adds it; returns whether it was new.
    pub fn insert(&mut self, entry: impl AsRef<Path>) -> Result<bool, NormalizeError> {
        let path = normalize(entry.as_ref())?;
        let mut node = 0;
        // normalize() returns an absolute path without `..`, so components() cannot fail.
        for name in components(&path).into_iter().flatten() {
            node = match self.find_child(node, name.as_bytes()) {
                Ok(child) => child,
                Err(slot) => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node]
                        .children
                        .insert(slot, (name.to_os_string(), child));
                    child
                }
            };
        }
        let was_member = std::mem::replace(&mut self.nodes[node].member, true);
        if !was_member {
            self.len += 1;
        }
        Ok(!was_member)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set has no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when `path` equals a member or lies below one, component-wise.
    ///
    /// Allocation-free and O(depth · log fan-out). `path` must be absolute and free of `..`;
    /// anything else is reported as not contained.
    pub fn contains(&self, path: &Path) -> bool {
        let bytes = path.as_os_str().as_bytes();
        if bytes.first() != Some(&b'/') {
            return false;
        }
        // One pass: walk the trie until a member is met, but keep scanning for `..` so that
        // `/member/../etc` is refused.
        let mut node = Some(0);
        let mut hit = self.nodes[0].member;
        for name in names(bytes) {
            if name == b".." {
                return false;
            }
            if let Some(current) = node.filter(|_| !hit) {
                node = self.find_child(current, name).ok();
                hit = node.is_some_and(|n| self.nodes[n].member);
            }
        }
        hit
    }

    /// True when some member lies strictly below `path`.
    ///
    /// Used by inversion (descend into the ancestors of members) and by the tracer (`mkdir` of an
    /// existing ancestor of a writable path answers EEXIST rather than a violation).
    pub fn is_ancestor_of_member(&self, path: &Path) -> bool {
        self.node_at(path)
            .is_some_and(|node| !self.nodes[node].children.is_empty())
    }

    /// True when `path` is exactly a member.
    pub fn is_member(&self, path: &Path) -> bool {
        self.node_at(path)
            .is_some_and(|node| self.nodes[node].member)
    }

    /// The members, sorted component-wise (a parent before its children).
    pub fn members(&self) -> Vec<PathBuf> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack = vec![(0usize, PathBuf::from("/"))];
        while let Some((node, path)) = stack.pop() {
            if self.nodes[node].member {
                out.push(path.clone());
            }
            // Push in reverse so that the smallest name is visited first.
            for (name, child) in self.nodes[node].children.iter().rev() {
                stack.push((*child, path.join(name)));
            }
        }
        out
    }

    /// Drops every member that another member already covers (`/a/b` when `/a` is a member).
    pub fn minimize(&mut self) {
        let minimal = self.minimized();
        *self = minimal;
    }

    /// A copy of this set without the members covered by another member.
    pub fn minimized(&self) -> PathSet {
        let mut out = PathSet::new();
        let mut stack = vec![(0usize, PathBuf::from("/"))];
        while let Some((node, path)) = stack.pop() {
            if self.nodes[node].member {
                // Normalised already: insert cannot fail.
                let _ = out.insert(&path);
                continue;
            }
            for (name, child) in &self.nodes[node].children {
                stack.push((*child, path.join(name)));
            }
        }
        out
    }

    /// The trie node that `path` ends at, if the trie has one.
    fn node_at(&self, path: &Path) -> Option<usize> {
        let mut node = 0;
        for name in components(path)? {
            node = self.find_child(node, name.as_bytes()).ok()?;
        }
        Some(node)
    }

    /// Binary search for `name` among the children of `node`, on bytes.
    fn find_child(&self, node: usize, name: &[u8]) -> Result<usize, usize> {
        let children = &self.nodes[node].children;
        children
            .binary_search_by(|(child, _)| child.as_bytes().cmp(name))
            .map(|i| children[i].1)
    }
}
