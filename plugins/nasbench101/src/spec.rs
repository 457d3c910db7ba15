//! NAS-Bench-101 cells: operations, pruning and validity.
//!
//! A cell is a DAG of at most [`MAX_VERTICES`] vertices given by an upper-triangular adjacency
//! matrix and one operation label per vertex. As in the official `nasbench` API, a cell is
//! first *pruned* (every vertex that is not on some input→output path is deleted, keeping the
//! order of the others) and then checked: the pruned cell must have at most 7 vertices and at
//! most 9 edges, begin with `input`, end with `output`, and use only the three convolution and
//! pooling operations in between. A cell whose input does not reach its output is invalid.
//!
//! [`RawCell`] is a cell before pruning (what sampling, mutation and decoding build);
//! [`ModelSpec`] is a pruned, valid cell (what architectures stand for).

use std::fmt;

/// Most vertices of a valid (pruned) cell, input and output included.
pub const MAX_VERTICES: usize = 7;
/// Most edges of a valid (pruned) cell.
pub const MAX_EDGES: usize = 9;
/// Most vertices of a matrix given before pruning (rows are kept as 64-bit masks).
pub const MAX_RAW_VERTICES: usize = 64;

/// A vertex label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// The cell input (always vertex 0 of a valid cell).
    Input,
    /// `conv3x3-bn-relu`.
    Conv3x3,
    /// `conv1x1-bn-relu`.
    Conv1x1,
    /// `maxpool3x3`.
    MaxPool3x3,
    /// The cell output (always the last vertex of a valid cell).
    Output,
}

impl Op {
    /// The operations allowed between input and output, in the official canonical order
    /// (`available_ops` of the nasbench config), which fixes their hash labels 0, 1, 2.
    pub const MIDDLE: [Op; 3] = [Op::Conv3x3, Op::Conv1x1, Op::MaxPool3x3];

    /// The official label string, e.g. `conv3x3-bn-relu`.
    pub fn label(self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv3x3 => "conv3x3-bn-relu",
            Op::Conv1x1 => "conv1x1-bn-relu",
            Op::MaxPool3x3 => "maxpool3x3",
            Op::Output => "output",
        }
    }

    /// A small stable number per operation (input 0, conv3x3 1, conv1x1 2, maxpool 3,
    /// output 4): the binary cache stores it and the canonical code orders vertices by it.
    pub fn code(self) -> u8 {
        match self {
            Op::Input => 0,
            Op::Conv3x3 => 1,
            Op::Conv1x1 => 2,
            Op::MaxPool3x3 => 3,
            Op::Output => 4,
        }
    }

    /// The operation of [`code`](Self::code), if `code` is one.
    pub fn from_code(code: u8) -> Option<Op> {
        Some(match code {
            0 => Op::Input,
            1 => Op::Conv3x3,
            2 => Op::Conv1x1,
            3 => Op::MaxPool3x3,
            4 => Op::Output,
            _ => return None,
        })
    }

    /// Parses an official label string.
    pub fn from_label(label: &str) -> Option<Op> {
        Some(match label {
            "input" => Op::Input,
            "conv3x3-bn-relu" => Op::Conv3x3,
            "conv1x1-bn-relu" => Op::Conv1x1,
            "maxpool3x3" => Op::MaxPool3x3,
            "output" => Op::Output,
            _ => return None,
        })
    }

    /// Whether the op may stand between input and output.
    pub fn is_middle(self) -> bool {
        matches!(self, Op::Conv3x3 | Op::Conv1x1 | Op::MaxPool3x3)
    }

    /// Index in [`Op::MIDDLE`] (the official hash label), for middle ops.
    pub fn middle_index(self) -> Option<usize> {
        match self {
            Op::Conv3x3 => Some(0),
            Op::Conv1x1 => Some(1),
            Op::MaxPool3x3 => Some(2),
            Op::Input | Op::Output => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a cell is not a valid NAS-Bench-101 cell.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The matrix or ops are malformed (not square, wrong lengths, not upper triangular, ...).
    #[error("{0}")]
    Malformed(String),
    /// No path leads from the input to the output.
    #[error("the input is not connected to the output")]
    Disconnected,
    /// The pruned cell has too many vertices.
    #[error("too many vertices after pruning: {0} (at most {MAX_VERTICES})")]
    TooManyVertices(usize),
    /// The pruned cell has too many edges.
    #[error("too many edges after pruning: {0} (at most {MAX_EDGES})")]
    TooManyEdges(usize),
    /// The first vertex is not `input`.
    #[error("the first operation should be `input`, found `{0}`")]
    FirstNotInput(String),
    /// The last vertex is not `output`.
    #[error("the last operation should be `output`, found `{0}`")]
    LastNotOutput(String),
    /// A vertex between input and output has an operation outside the three allowed.
    #[error("unsupported operation `{0}` at vertex {1} (allowed: conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3)")]
    BadOp(String, usize),
}

/// Vertices on some input→output path, as a mask, for an upper-triangular graph of `n`
/// vertices whose row `v` is the mask of `v`'s successors. Returns `None` when fewer than two
/// vertices remain (input and output disconnected), which is the official rule
/// `len(extraneous) > num_vertices - 2`.
fn kept_vertices(rows: &[u64]) -> Option<u64> {
    let n = rows.len();
    if n < 2 {
        return None;
    }
    // Edges only go forward, so one pass in vertex order finds everything reachable from the
    // input, and one pass in reverse everything that reaches the output (the same sets as the
    // official depth-first searches).
    let mut from_input = 1u64;
    for v in 0..n {
        if from_input >> v & 1 == 1 {
            from_input |= rows[v];
        }
    }
    let mut to_output = 1u64 << (n - 1);
    for v in (0..n - 1).rev() {
        if rows[v] & to_output != 0 {
            to_output |= 1 << v;
        }
    }
    let kept = from_input & to_output;
    (kept.count_ones() >= 2).then_some(kept)
}

/// Compacts the rows of the kept vertices: returns the new row masks (in kept order).
fn compact_rows(rows: &[u64], kept: u64, out: &mut [u8; MAX_VERTICES]) -> usize {
    let mut m = 0;
    for v in 0..rows.len() {
        if kept >> v & 1 == 0 {
            continue;
        }
        let mut row = 0u8;
        let mut k = 0;
        for w in 0..rows.len() {
            if kept >> w & 1 == 1 {
                if rows[v] >> w & 1 == 1 {
                    row |= 1 << k;
                }
                k += 1;
            }
        }
        out[m] = row;
        m += 1;
    }
    m
}

/// Checks a pruned cell the way `NASBench.is_valid` does (vertex count first, then edges,
/// then labels). `label(i)` is the label string of pruned vertex `i`.
fn check_pruned<'a>(
    n: usize,
    edges: usize,
    op: impl Fn(usize) -> Option<Op>,
    label: impl Fn(usize) -> &'a str,
) -> Result<(), SpecError> {
    if n > MAX_VERTICES {
        return Err(SpecError::TooManyVertices(n));
    }
    if edges > MAX_EDGES {
        return Err(SpecError::TooManyEdges(edges));
    }
    if op(0) != Some(Op::Input) {
        return Err(SpecError::FirstNotInput(label(0).to_string()));
    }
    if op(n - 1) != Some(Op::Output) {
        return Err(SpecError::LastNotOutput(label(n - 1).to_string()));
    }
    for i in 1..n - 1 {
        if !op(i).is_some_and(Op::is_middle) {
            return Err(SpecError::BadOp(label(i).to_string(), i));
        }
    }
    Ok(())
}

/// A cell before pruning, with at most [`MAX_VERTICES`] vertices (any labels, any edges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawCell {
    n: u8,
    /// `rows[v]` bit `w`: edge `v → w` (only `w > v`).
    rows: [u8; MAX_VERTICES],
    ops: [Op; MAX_VERTICES],
}

impl RawCell {
    /// A cell of `ops.len()` vertices (2 to 7) and no edges.
    ///
    /// # Panics
    /// If `ops` has fewer than 2 or more than [`MAX_VERTICES`] entries.
    pub fn new(ops: &[Op]) -> RawCell {
        assert!(
            (2..=MAX_VERTICES).contains(&ops.len()),
            "a raw cell has 2 to 7 vertices"
        );
        let mut all = [Op::Input; MAX_VERTICES];
        all[..ops.len()].copy_from_slice(ops);
        RawCell {
            n: ops.len() as u8,
            rows: [0; MAX_VERTICES],
            ops: all,
        }
    }

    /// Builds from row masks (`rows[v]` bit `w` = edge `v → w`); bits on or below the
    /// diagonal, or beyond the last vertex, are an error.
    pub fn from_rows(rows: &[u8], ops: &[Op]) -> Result<RawCell, SpecError> {
        if rows.len() != ops.len() {
            return Err(SpecError::Malformed(
                "length of ops must match matrix dimensions".into(),
            ));
        }
        if !(2..=MAX_VERTICES).contains(&ops.len()) {
            return Err(SpecError::Malformed(format!(
                "a cell has 2 to {MAX_VERTICES} vertices, got {}",
                ops.len()
            )));
        }
        let mut cell = RawCell::new(ops);
        let n = ops.len();
        for (v, &row) in rows.iter().enumerate() {
            let allowed = (((1u32 << n) - 1) & !((1u32 << (v + 1)) - 1)) as u8;
            if row & !allowed != 0 {
                return Err(SpecError::Malformed(
                    "matrix must be upper triangular".into(),
                ));
            }
            cell.rows[v] = row;
        }
        Ok(cell)
    }

    /// Number of vertices.
    pub fn num_vertices(&self) -> usize {
        self.n as usize
    }

    /// Whether the edge `from → to` is present.
    pub fn has_edge(&self, from: usize, to: usize) -> bool {
        from < self.num_vertices() && to < self.num_vertices() && self.rows[from] >> to & 1 == 1
    }

    /// Sets or clears the edge `from → to`.
    ///
    /// # Panics
    /// Unless `from < to < num_vertices()`.
    pub fn set_edge(&mut self, from: usize, to: usize, present: bool) {
        assert!(
            from < to && to < self.num_vertices(),
            "edge {from} -> {to} is not upper triangular"
        );
        if present {
            self.rows[from] |= 1 << to;
        } else {
            self.rows[from] &= !(1 << to);
        }
    }

    /// Flips the edge `from → to`.
    ///
    /// # Panics
    /// Unless `from < to < num_vertices()`.
    pub fn flip_edge(&mut self, from: usize, to: usize) {
        assert!(
            from < to && to < self.num_vertices(),
            "edge {from} -> {to} is not upper triangular"
        );
        self.rows[from] ^= 1 << to;
    }

    /// The operation of vertex `v`.
    ///
    /// # Panics
    /// If `v >= num_vertices()`.
    pub fn op(&self, v: usize) -> Op {
        self.ops[..self.num_vertices()][v]
    }

    /// Sets the operation of vertex `v`.
    ///
    /// # Panics
    /// If `v >= num_vertices()`.
    pub fn set_op(&mut self, v: usize, op: Op) {
        let n = self.num_vertices();
        self.ops[..n][v] = op;
    }

    /// Prunes the cell and checks it (`ModelSpec(matrix, ops)` then `is_valid`).
    pub fn prune(&self) -> Result<ModelSpec, SpecError> {
        let n = self.num_vertices();
        let mut wide = [0u64; MAX_VERTICES];
        for v in 0..n {
            wide[v] = u64::from(self.rows[v]);
        }
        let kept = kept_vertices(&wide[..n]).ok_or(SpecError::Disconnected)?;
        let mut spec = ModelSpec {
            n: 0,
            rows: [0; MAX_VERTICES],
            ops: [Op::Input; MAX_VERTICES],
        };
        let m = compact_rows(&wide[..n], kept, &mut spec.rows);
        let mut k = 0;
        for v in 0..n {
            if kept >> v & 1 == 1 {
                spec.ops[k] = self.ops[v];
                k += 1;
            }
        }
        spec.n = m as u8;
        let edges = spec.num_edges();
        let ops = spec.ops;
        check_pruned(m, edges, |i| Some(ops[i]), |i| ops[i].label())?;
        Ok(spec)
    }
}

/// A pruned, valid NAS-Bench-101 cell: 2 to 7 vertices, at most 9 edges, every vertex on an
/// input→output path, `input` first, `output` last and the three middle ops in between.
///
/// Two specs may be isomorphic (the same network with vertices numbered differently); their
/// [`hash`](ModelSpec::hash) is then equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelSpec {
    n: u8,
    rows: [u8; MAX_VERTICES],
    ops: [Op; MAX_VERTICES],
}

impl ModelSpec {
    /// Builds, prunes and checks a cell from a 0/1 matrix (any size up to
    /// [`MAX_RAW_VERTICES`] before pruning) and label strings. Labels of vertices that pruning
    /// removes are not checked, as in the official API.
    pub fn from_matrix<R, S>(matrix: &[R], ops: &[S]) -> Result<ModelSpec, SpecError>
    where
        R: AsRef<[u8]>,
        S: AsRef<str>,
    {
        let n = matrix.len();
        if matrix.iter().any(|row| row.as_ref().len() != n) {
            return Err(SpecError::Malformed("matrix must be square".into()));
        }
        if ops.len() != n {
            return Err(SpecError::Malformed(
                "length of ops must match matrix dimensions".into(),
            ));
        }
        if n == 0 {
            return Err(SpecError::Malformed("the cell has no vertices".into()));
        }
        if n > MAX_RAW_VERTICES {
            return Err(SpecError::TooManyVertices(n));
        }
        let mut rows = [0u64; MAX_RAW_VERTICES];
        for (v, row) in matrix.iter().enumerate() {
            for (w, &x) in row.as_ref().iter().enumerate() {
                match x {
                    0 => {}
                    1 if w > v => rows[v] |= 1 << w,
                    1 => {
                        return Err(SpecError::Malformed(
                            "matrix must be upper triangular".into(),
                        ))
                    }
                    _ => {
                        return Err(SpecError::Malformed(format!(
                            "matrix entries must be 0 or 1, found {x}"
                        )))
                    }
                }
            }
        }
        let rows = &rows[..n];
        let kept = kept_vertices(rows).ok_or(SpecError::Disconnected)?;
        let m = kept.count_ones() as usize;
        let mut index = [0usize; MAX_VERTICES];
        let mut k = 0;
        for v in 0..n {
            if kept >> v & 1 == 1 {
                if k < MAX_VERTICES {
                    index[k] = v;
                }
                k += 1;
            }
        }
        if m > MAX_VERTICES {
            return Err(SpecError::TooManyVertices(m));
        }
        let mut spec = ModelSpec {
            n: m as u8,
            rows: [0; MAX_VERTICES],
            ops: [Op::Input; MAX_VERTICES],
        };
        compact_rows(rows, kept, &mut spec.rows);
        let edges = spec.num_edges();
        let label = |i: usize| ops[index[i]].as_ref();
        check_pruned(m, edges, |i| Op::from_label(label(i)), label)?;
        for i in 0..m {
            spec.ops[i] = Op::from_label(label(i)).expect("labels were checked");
        }
        Ok(spec)
    }

    /// Number of vertices (2 to 7).
    pub fn num_vertices(&self) -> usize {
        self.n as usize
    }

    /// Number of edges (at most 9).
    pub fn num_edges(&self) -> usize {
        self.rows[..self.num_vertices()]
            .iter()
            .map(|r| r.count_ones() as usize)
            .sum()
    }

    /// Whether the edge `from → to` is present.
    pub fn has_edge(&self, from: usize, to: usize) -> bool {
        from < self.num_vertices() && to < self.num_vertices() && self.rows[from] >> to & 1 == 1
    }

    /// Successor masks: bit `w` of entry `v` is the edge `v → w`.
    pub fn rows(&self) -> &[u8] {
        &self.rows[..self.num_vertices()]
    }

    /// The vertex operations (`input` first, `output` last).
    pub fn ops(&self) -> &[Op] {
        &self.ops[..self.num_vertices()]
    }

    /// The adjacency matrix as 0/1 rows.
    pub fn matrix(&self) -> Vec<Vec<u8>> {
        let n = self.num_vertices();
        (0..n)
            .map(|v| (0..n).map(|w| self.rows[v] >> w & 1).collect())
            .collect()
    }

    /// The official module hash (32 lowercase hex digits), as bytes.
    pub fn hash_bytes(&self) -> [u8; 32] {
        let mut labels = [0i8; MAX_VERTICES];
        let n = self.num_vertices();
        for (i, op) in self.ops().iter().enumerate() {
            labels[i] = op.middle_index().map_or(0, |x| x as i8);
        }
        labels[0] = -1;
        labels[n - 1] = -2;
        crate::hash::hash_module(self.rows(), &labels[..n])
    }

    /// The official module hash, e.g. `28cfc7874f6d200472e1a9dcd8650aa0`: the key the
    /// NAS-Bench-101 data set is indexed by. Isomorphic cells share it.
    pub fn hash(&self) -> String {
        let bytes = self.hash_bytes();
        // The bytes are ASCII hex digits.
        bytes.iter().map(|&b| b as char).collect()
    }

    /// The same cell padded to `MAX_VERTICES` vertices before pruning: `extra` isolated
    /// vertices are inserted just before the output with the given ops. Pruning the result
    /// gives back `self`.
    pub fn padded(&self, extra_ops: &[Op]) -> RawCell {
        let n = self.num_vertices();
        let total = n + extra_ops.len();
        assert!(
            total <= MAX_VERTICES,
            "padding beyond {MAX_VERTICES} vertices"
        );
        let out = total - 1;
        let mut raw = RawCell {
            n: total as u8,
            rows: [0; MAX_VERTICES],
            ops: [Op::Input; MAX_VERTICES],
        };
        for v in 0..n - 1 {
            raw.ops[v] = self.ops[v];
            let row = self.rows[v];
            // Columns before the output keep their place; the output column moves to `out`.
            let low = row & !(1 << (n - 1));
            raw.rows[v] = low | if row >> (n - 1) & 1 == 1 { 1 << out } else { 0 };
        }
        raw.ops[n - 1..out].copy_from_slice(extra_ops);
        raw.ops[out] = Op::Output;
        raw
    }

    /// The compact JSON notation `{"matrix":[[0,1],[0,0]],"ops":["input","output"]}`.
    pub fn to_json(&self) -> String {
        let n = self.num_vertices();
        let mut s = String::with_capacity(32 + n * (2 * n + 2) + n * 18);
        s.push_str("{\"matrix\":[");
        for v in 0..n {
            if v > 0 {
                s.push(',');
            }
            s.push('[');
            for w in 0..n {
                if w > 0 {
                    s.push(',');
                }
                s.push(if self.rows[v] >> w & 1 == 1 { '1' } else { '0' });
            }
            s.push(']');
        }
        s.push_str("],\"ops\":[");
        for (i, op) in self.ops().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('"');
            s.push_str(op.label());
            s.push('"');
        }
        s.push_str("]}");
        s
    }

    /// Parses the JSON notation (the compact form of [`to_json`](Self::to_json) quickly, any
    /// other JSON object with `matrix` and `ops` through `serde_json`), then prunes and checks.
    pub fn parse_json(text: &str) -> Result<ModelSpec, SpecError> {
        if let Some(result) = parse_compact(text) {
            return result;
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            SpecError::Malformed(format!("not a JSON object with `matrix` and `ops`: {e}"))
        })?;
        ModelSpec::from_value(&value)
    }

    /// Reads a JSON object with `matrix` (0/1 numbers or booleans, or a string holding such
    /// a JSON matrix) and `ops` (label strings, or a string holding such a JSON list).
    pub fn from_value(value: &serde_json::Value) -> Result<ModelSpec, SpecError> {
        let object = value.as_object().ok_or_else(|| {
            SpecError::Malformed(format!(
                "expected a JSON object with `matrix` and `ops`, found {value}"
            ))
        })?;
        let matrix = object
            .get("matrix")
            .ok_or_else(|| SpecError::Malformed("no `matrix` field".into()))?;
        let ops = object
            .get("ops")
            .ok_or_else(|| SpecError::Malformed("no `ops` field".into()))?;
        let matrix = json_matrix(matrix)?;
        let ops = json_ops(ops)?;
        ModelSpec::from_matrix(&matrix, &ops)
    }
}

/// A JSON value that may be a string holding JSON (as CSV cells do).
fn unwrap_string(value: &serde_json::Value, what: &str) -> Result<serde_json::Value, SpecError> {
    match value {
        serde_json::Value::String(s) => serde_json::from_str(s)
            .map_err(|e| SpecError::Malformed(format!("`{what}` string is not JSON: {e}"))),
        other => Ok(other.clone()),
    }
}

fn json_matrix(value: &serde_json::Value) -> Result<Vec<Vec<u8>>, SpecError> {
    let value = unwrap_string(value, "matrix")?;
    let bad = || {
        SpecError::Malformed(format!(
            "`matrix` should be a list of lists of 0/1, found {value}"
        ))
    };
    let rows = value.as_array().ok_or_else(bad)?;
    rows.iter()
        .map(|row| {
            row.as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|x| match x {
                    serde_json::Value::Bool(b) => Ok(u8::from(*b)),
                    serde_json::Value::Number(n) => match n.as_u64() {
                        Some(k @ (0 | 1)) => Ok(k as u8),
                        _ => Err(SpecError::Malformed(format!(
                            "matrix entries must be 0 or 1, found {n}"
                        ))),
                    },
                    _ => Err(bad()),
                })
                .collect()
        })
        .collect()
}

fn json_ops(value: &serde_json::Value) -> Result<Vec<String>, SpecError> {
    let value = unwrap_string(value, "ops")?;
    let bad = || SpecError::Malformed(format!("`ops` should be a list of strings, found {value}"));
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

/// Fast path for the exact compact notation (no whitespace, `matrix` then `ops`, at most 7
/// vertices, known labels). `None` means "not in compact form": the caller falls back to a
/// full JSON parse, which also produces the error messages.
fn parse_compact(text: &str) -> Option<Result<ModelSpec, SpecError>> {
    fn eat(prefix: &[u8], s: &mut &[u8]) -> bool {
        if s.starts_with(prefix) {
            *s = &s[prefix.len()..];
            true
        } else {
            false
        }
    }
    let mut s = text.as_bytes();
    if !eat(b"{\"matrix\":[", &mut s) {
        return None;
    }
    let mut rows = [0u8; MAX_VERTICES];
    let mut n = 0;
    let mut width = 0;
    loop {
        if n == MAX_VERTICES || !eat(b"[", &mut s) {
            return None;
        }
        let mut w = 0;
        loop {
            match s.first()? {
                b'0' => {}
                b'1' => {
                    if w >= MAX_VERTICES {
                        return None;
                    }
                    rows[n] |= 1 << w;
                }
                _ => return None,
            }
            s = &s[1..];
            w += 1;
            if w > MAX_VERTICES {
                return None;
            }
            if eat(b",", &mut s) {
                continue;
            }
            if eat(b"]", &mut s) {
                break;
            }
            return None;
        }
        if n == 0 {
            width = w;
        } else if w != width {
            return None;
        }
        n += 1;
        if eat(b",", &mut s) {
            continue;
        }
        if eat(b"]", &mut s) {
            break;
        }
        return None;
    }
    if !eat(b",\"ops\":[", &mut s) {
        return None;
    }
    let mut ops = [Op::Input; MAX_VERTICES];
    let mut m = 0;
    loop {
        if m == MAX_VERTICES || !eat(b"\"", &mut s) {
            return None;
        }
        let end = s.iter().position(|&b| b == b'"')?;
        let label = std::str::from_utf8(&s[..end]).ok()?;
        ops[m] = Op::from_label(label)?;
        m += 1;
        s = &s[end + 1..];
        if eat(b",", &mut s) {
            continue;
        }
        if eat(b"]}", &mut s) {
            break;
        }
        return None;
    }
    if !s.is_empty() || m != n || width != n || n < 2 {
        return None;
    }
    Some(RawCell::from_rows(&rows[..n], &ops[..n]).and_then(|raw| raw.prune()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(matrix: &[&[u8]], ops: &[&str]) -> Result<ModelSpec, SpecError> {
        ModelSpec::from_matrix(matrix, ops)
    }

    const C3: &str = "conv3x3-bn-relu";
    const C1: &str = "conv1x1-bn-relu";
    const MP: &str = "maxpool3x3";

    #[test]
    fn dangling_vertex_is_removed() {
        // Vertex 2 has no outgoing edge; vertex 3 is not reachable from the input.
        let s = spec(
            &[
                &[0, 1, 1, 0, 0],
                &[0, 0, 0, 0, 1],
                &[0, 0, 0, 0, 0],
                &[0, 0, 0, 0, 1],
                &[0, 0, 0, 0, 0],
            ],
            &["input", C3, C1, MP, "output"],
        )
        .unwrap();
        assert_eq!(s.num_vertices(), 3);
        assert_eq!(
            s.matrix(),
            vec![vec![0, 1, 0], vec![0, 0, 1], vec![0, 0, 0]]
        );
        assert_eq!(s.ops(), &[Op::Input, Op::Conv3x3, Op::Output]);
        assert_eq!(s.num_edges(), 2);
    }

    #[test]
    fn pruned_labels_are_not_checked() {
        // The dangling vertex has an unknown label: pruning removes it before the check.
        let s = spec(
            &[&[0, 1, 1], &[0, 0, 0], &[0, 0, 0]],
            &["input", "conv5x5", "output"],
        )
        .unwrap();
        assert_eq!(s.num_vertices(), 2);
        let err = spec(
            &[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]],
            &["input", "conv5x5", "output"],
        )
        .unwrap_err();
        assert_eq!(err, SpecError::BadOp("conv5x5".into(), 1));
    }

    #[test]
    fn disconnected_output_is_invalid() {
        let err = spec(
            &[&[0, 1, 0], &[0, 0, 0], &[0, 0, 0]],
            &["input", C3, "output"],
        )
        .unwrap_err();
        assert_eq!(err, SpecError::Disconnected);
        let err = spec(&[&[0]], &["input"]).unwrap_err();
        assert_eq!(err, SpecError::Disconnected);
    }

    #[test]
    fn too_many_edges_is_invalid() {
        // 7 vertices, a chain plus input->everything: 6 + 5 = 11 edges.
        let mut m = vec![vec![0u8; 7]; 7];
        for v in 0..6 {
            m[v][v + 1] = 1;
        }
        for w in 2..7 {
            m[0][w] = 1;
        }
        let ops = ["input", C3, C3, C1, C1, MP, "output"];
        assert_eq!(
            ModelSpec::from_matrix(&m, &ops).unwrap_err(),
            SpecError::TooManyEdges(11)
        );
        // Nine edges are fine.
        m[0][2] = 0;
        m[0][3] = 0;
        assert_eq!(ModelSpec::from_matrix(&m, &ops).unwrap().num_edges(), 9);
    }

    #[test]
    fn too_many_vertices_is_invalid_only_after_pruning() {
        let mut m = vec![vec![0u8; 8]; 8];
        for v in 0..7 {
            m[v][v + 1] = 1;
        }
        let ops = ["input", C3, C3, C1, C1, MP, MP, "output"];
        assert_eq!(
            ModelSpec::from_matrix(&m, &ops).unwrap_err(),
            SpecError::TooManyVertices(8)
        );
        // Bypass vertex 6 and leave it dangling: 7 vertices remain.
        m[5][6] = 0;
        m[5][7] = 1;
        assert_eq!(ModelSpec::from_matrix(&m, &ops).unwrap().num_vertices(), 7);
    }

    #[test]
    fn labels_are_checked() {
        let m: &[&[u8]] = &[&[0, 1, 0], &[0, 0, 1], &[0, 0, 0]];
        assert!(matches!(
            spec(m, &[C3, C3, "output"]),
            Err(SpecError::FirstNotInput(_))
        ));
        assert!(matches!(
            spec(m, &["input", C3, C3]),
            Err(SpecError::LastNotOutput(_))
        ));
        assert!(matches!(
            spec(m, &["input", "output", "output"]),
            Err(SpecError::BadOp(_, 1))
        ));
    }

    #[test]
    fn malformed_inputs() {
        assert!(matches!(
            spec(&[&[0, 1], &[0]], &["input", "output"]),
            Err(SpecError::Malformed(_))
        ));
        assert!(matches!(
            spec(&[&[0, 1], &[0, 0]], &["input"]),
            Err(SpecError::Malformed(_))
        ));
        assert!(matches!(
            spec(&[&[0, 1], &[1, 0]], &["input", "output"]),
            Err(SpecError::Malformed(_))
        ));
        assert!(matches!(
            spec(&[&[0, 2], &[0, 0]], &["input", "output"]),
            Err(SpecError::Malformed(_))
        ));
        assert!(matches!(
            ModelSpec::from_matrix::<&[u8], &str>(&[], &[]),
            Err(SpecError::Malformed(_))
        ));
    }

    #[test]
    fn json_round_trip_and_fallback() {
        let s = spec(
            &[&[0, 1, 1], &[0, 0, 1], &[0, 0, 0]],
            &["input", MP, "output"],
        )
        .unwrap();
        let text = s.to_json();
        assert_eq!(
            text,
            r#"{"matrix":[[0,1,1],[0,0,1],[0,0,0]],"ops":["input","maxpool3x3","output"]}"#
        );
        assert!(parse_compact(&text).is_some());
        assert_eq!(ModelSpec::parse_json(&text).unwrap(), s);
        let spaced = r#"{ "ops": ["input", "maxpool3x3", "output"], "matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "hash": "x" }"#;
        assert!(parse_compact(spaced).is_none());
        assert_eq!(ModelSpec::parse_json(spaced).unwrap(), s);
        let bools = r#"{"matrix":[[false,true,true],[false,false,true],[false,false,false]],"ops":["input","maxpool3x3","output"]}"#;
        assert_eq!(ModelSpec::parse_json(bools).unwrap(), s);
        let unpruned = r#"{"matrix":[[0,1,1,1],[0,0,0,1],[0,0,0,0],[0,0,0,0]],"ops":["input","maxpool3x3","conv3x3-bn-relu","output"]}"#;
        let p = ModelSpec::parse_json(unpruned).unwrap();
        assert_eq!(p.num_vertices(), 3);
        assert!(ModelSpec::parse_json("not json").is_err());
        assert!(ModelSpec::parse_json(r#"{"matrix":[[0,1],[0,0]]}"#).is_err());
        assert!(
            ModelSpec::parse_json(r#"{"matrix":[[0,1],[0,0]],"ops":["input","output"]}x"#).is_err()
        );
        // Compact-looking but malformed inputs fall through to the full parser's errors.
        for bad in [
            r#"{"matrix":[[0,1],[0,0]],"ops":["input","output","output"]}"#,
            r#"{"matrix":[[0,1],[0,0,0]],"ops":["input","output"]}"#,
            r#"{"matrix":[[0,1],[1,0]],"ops":["input","output"]}"#,
            r#"{"matrix":[[0,1],[0,0]],"ops":["input","outpt"]}"#,
            r#"{"matrix":[[0,0],[0,0]],"ops":["input","output"]}"#,
            r#"{"matrix":[],"ops":[]}"#,
        ] {
            assert!(ModelSpec::parse_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn padding_prunes_back() {
        let s = spec(
            &[&[0, 1, 1, 0], &[0, 0, 0, 1], &[0, 0, 0, 1], &[0, 0, 0, 0]],
            &["input", C1, MP, "output"],
        )
        .unwrap();
        let raw = s.padded(&[Op::Conv3x3, Op::Conv3x3, Op::MaxPool3x3]);
        assert_eq!(raw.num_vertices(), 7);
        assert!(raw.has_edge(1, 6) && raw.has_edge(2, 6) && !raw.has_edge(1, 3));
        assert_eq!(raw.op(6), Op::Output);
        assert_eq!(raw.prune().unwrap(), s);
    }

    #[test]
    fn raw_cell_edits() {
        let mut raw = RawCell::new(&[Op::Input, Op::Conv3x3, Op::Output]);
        assert_eq!(raw.prune().unwrap_err(), SpecError::Disconnected);
        raw.set_edge(0, 1, true);
        raw.flip_edge(1, 2);
        assert_eq!(raw.prune().unwrap().num_edges(), 2);
        raw.set_op(1, Op::Output);
        assert!(matches!(raw.prune(), Err(SpecError::BadOp(_, 1))));
        assert!(
            RawCell::from_rows(&[0b10, 0b1, 0], &[Op::Input, Op::Conv1x1, Op::Output]).is_err()
        );
    }
}
