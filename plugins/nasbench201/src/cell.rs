//! The NAS-Bench-201 cell: four nodes, six edges, five operations.

use std::fmt;
use std::str::FromStr;

use seminas_core::{Error, Result};

/// The candidate operations, in the benchmark's order. Op index `i` is token `i + 1`.
pub const OPS: [&str; 5] = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];

/// Number of nodes in a cell (node 0 is the cell input, node 3 its output).
pub const NUM_NODES: usize = 4;

/// Number of edges: node `i` takes one edge from every node `j < i`.
pub const NUM_EDGES: usize = NUM_NODES * (NUM_NODES - 1) / 2;

/// Number of cells: `5^6`.
pub const NUM_CELLS: usize = 15_625;

/// The `(from, to)` nodes of every edge, in the order the architecture string lists them:
/// `|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|`.
pub const EDGES: [(usize, usize); NUM_EDGES] = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];

/// One NAS-Bench-201 cell: the operation index (into [`OPS`]) on each of the six edges, in
/// [`EDGES`] order.
///
/// [`Display`](fmt::Display) writes the standard architecture string and
/// [`Cell::parse`] reads it back, strictly: only that exact form is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    ops: [u8; NUM_EDGES],
}

impl Cell {
    /// A cell from six op indices; an index `>= 5` is an error.
    pub fn from_ops(ops: [usize; NUM_EDGES]) -> Result<Cell> {
        let mut out = [0u8; NUM_EDGES];
        for (edge, (&op, slot)) in ops.iter().zip(out.iter_mut()).enumerate() {
            if op >= OPS.len() {
                return Err(Error::InvalidArchitecture(format!(
                    "edge {edge}: operation index {op} is out of range (0..{})",
                    OPS.len()
                )));
            }
            *slot = op as u8;
        }
        Ok(Cell { ops: out })
    }

    /// The op index of every edge, in [`EDGES`] order.
    pub fn ops(&self) -> [usize; NUM_EDGES] {
        self.ops.map(usize::from)
    }

    /// The op index on edge `edge` (`< 6`).
    pub fn op(&self, edge: usize) -> usize {
        usize::from(self.ops[edge])
    }

    /// A copy with edge `edge` (`< 6`) set to op `op` (`< 5`).
    ///
    /// # Panics
    /// When `edge` or `op` is out of range.
    pub fn with_op(mut self, edge: usize, op: usize) -> Cell {
        assert!(op < OPS.len(), "operation index {op} out of range");
        self.ops[edge] = op as u8;
        self
    }

    /// The cell's number in `0..15625`: the op indices read as a base-5 number, edge 0 most
    /// significant. Not the benchmark's own index.
    pub fn index(&self) -> usize {
        self.ops.iter().fold(0, |acc, &op| acc * OPS.len() + usize::from(op))
    }

    /// The cell numbered `index` (see [`index`](Self::index)); `None` when `index >= 15625`.
    pub fn from_index(index: usize) -> Option<Cell> {
        if index >= NUM_CELLS {
            return None;
        }
        let mut ops = [0u8; NUM_EDGES];
        let mut rest = index;
        for slot in ops.iter_mut().rev() {
            *slot = (rest % OPS.len()) as u8;
            rest /= OPS.len();
        }
        Some(Cell { ops })
    }

    /// All 15,625 cells, by [`index`](Self::index).
    pub fn all() -> impl Iterator<Item = Cell> {
        (0..NUM_CELLS).filter_map(Cell::from_index)
    }

    /// Parses the standard architecture string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
    ///
    /// Strict: no whitespace, inputs listed in order, known operation names only. The error
    /// quotes the string and names what is wrong.
    pub fn parse(text: &str) -> Result<Cell> {
        parse_cell(text).map_err(|reason| Error::InvalidArchitecture(format!("`{text}`: {reason}")))
    }
}

fn parse_cell(text: &str) -> std::result::Result<Cell, String> {
    if text.is_empty() {
        return Err("empty architecture string (expected `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`)".into());
    }
    let groups: Vec<&str> = text.split('+').collect();
    if groups.len() != NUM_NODES - 1 {
        return Err(format!("expected {} node groups separated by `+`, found {}", NUM_NODES - 1, groups.len()));
    }
    let mut ops = [0u8; NUM_EDGES];
    let mut edge = 0;
    for (g, group) in groups.iter().enumerate() {
        let node = g + 1;
        let inner = group
            .strip_prefix('|')
            .and_then(|s| s.strip_suffix('|'))
            .filter(|_| group.len() >= 2)
            .ok_or_else(|| format!("node {node}: group `{group}` should start and end with `|`"))?;
        let entries: Vec<&str> = inner.split('|').collect();
        if entries.len() != node {
            return Err(format!(
                "node {node}: expected {node} input(s) `|op~0|...|op~{}|`, found {} in `{group}`",
                node - 1,
                entries.len()
            ));
        }
        for (input, entry) in entries.iter().enumerate() {
            let (name, from) = entry
                .split_once('~')
                .ok_or_else(|| format!("node {node}, input {input}: `{entry}` should be `op~{input}`"))?;
            let op = OPS.iter().position(|&o| o == name).ok_or_else(|| {
                format!("node {node}, input {input}: unknown operation `{name}` (expected one of {})", OPS.join(", "))
            })?;
            if from != input.to_string() {
                return Err(format!(
                    "node {node}, input {input}: source node `{from}` in `{entry}` should be `{input}` \
                     (inputs are listed in order 0..{})",
                    node - 1
                ));
            }
            ops[edge] = op as u8;
            edge += 1;
        }
    }
    Ok(Cell { ops })
}

impl FromStr for Cell {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cell> {
        Cell::parse(s)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut edge = 0;
        for node in 1..NUM_NODES {
            if node > 1 {
                f.write_str("+")?;
            }
            f.write_str("|")?;
            for input in 0..node {
                write!(f, "{}~{input}|", OPS[usize::from(self.ops[edge])])?;
                edge += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEST_C10: &str =
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

    fn reason(text: &str) -> String {
        Cell::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parse_round_trip() {
        let cell = Cell::parse(BEST_C10).unwrap();
        assert_eq!(cell.ops(), [3, 3, 3, 1, 3, 3]);
        assert_eq!(cell.to_string(), BEST_C10);
        for cell in Cell::all() {
            let text = cell.to_string();
            assert_eq!(Cell::parse(&text).unwrap(), cell, "{text}");
            assert_eq!(text.parse::<Cell>().unwrap(), cell);
        }
    }

    #[test]
    fn index_is_a_bijection() {
        let mut seen = vec![false; NUM_CELLS];
        for (i, cell) in Cell::all().enumerate() {
            assert_eq!(cell.index(), i);
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert_eq!(Cell::all().count(), NUM_CELLS);
        assert!(Cell::from_index(NUM_CELLS).is_none());
        assert_eq!(Cell::from_index(0).unwrap().to_string(), "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
    }

    #[test]
    fn edges_match_string_order() {
        let mut expected = Vec::new();
        for to in 1..NUM_NODES {
            for from in 0..to {
                expected.push((from, to));
            }
        }
        assert_eq!(EDGES.to_vec(), expected);
    }

    #[test]
    fn malformed_strings_are_named() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("|none~0|+|none~0|none~1|", "expected 3 node groups"),
            ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "found 4"),
            ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1: group `none~0|` should start and end with `|`"),
            ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2", "node 3"),
            ("|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1"),
            ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2: expected 2 input(s)"),
            ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "node 3: expected 3 input(s)"),
            ("|none~0|+|none~0|none~1|+|none~0|none1|none~2|", "node 3, input 1: `none1` should be `op~1`"),
            ("|none~0|+|conv_3x3~0|none~1|+|none~0|none~1|none~2|", "unknown operation `conv_3x3`"),
            ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "node 2, input 0: source node `1`"),
            ("|none~0|+|none~0|none~1|+|none~0|none~1|none~02|", "source node `02`"),
            ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ", "node 3"),
            (" |none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1"),
            ("|None~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation `None`"),
            ("|none~0|+|none~0|none~1|+|none~0||none~2|", "input 1: `` should be"),
        ];
        for (text, needle) in cases {
            let message = reason(text);
            assert!(message.contains(needle), "{text:?}: {message}");
            assert!(message.starts_with("invalid architecture: `"), "{message}");
        }
    }

    #[test]
    fn from_ops_checks_range() {
        assert!(Cell::from_ops([0, 1, 2, 3, 4, 4]).is_ok());
        let message = Cell::from_ops([0, 1, 2, 3, 4, 5]).unwrap_err().to_string();
        assert!(message.contains("edge 5"), "{message}");
    }
}
