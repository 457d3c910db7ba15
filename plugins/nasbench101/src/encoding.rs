//! The 27-token sequence of SemiNAS/NAO for NAS-Bench-101 cells.
//!
//! Tokens: `0` start/end of sequence and padding, `1` no edge, `2` edge, `3` conv1x1,
//! `4` conv3x3, `5` maxpool3x3, `6` output. The sequence lists the columns `j = 1..=6` of the
//! 7×7 adjacency matrix: for each, the tokens `matrix[i][j] + 1` for `i < j`, then the op token
//! of vertex `j`. A cell of `n < 7` vertices fills the columns `j ≥ n` with zeros, as SemiNAS's
//! `convert_arch_to_seq` does.
//!
//! Decoding follows SemiNAS's `convert_seq_to_arch` and the official validity check: the
//! sequence is read as a cell before pruning (an `output` token in the middle makes a vertex
//! labelled `output`, which is valid only when pruning removes it), then pruned and checked.

use seminas_core::Token;

use crate::spec::{ModelSpec, Op, RawCell, SpecError, MAX_VERTICES};

/// Length of every sequence: `(7 + 2) * (7 - 1) / 2`.
pub const SEQ_LEN: usize = (MAX_VERTICES + 2) * (MAX_VERTICES - 1) / 2;
/// Number of distinct tokens.
pub const VOCAB_SIZE: usize = 7;
/// Padding and start/end of sequence.
pub const PAD: Token = 0;
/// No edge.
pub const NO_EDGE: Token = 1;
/// An edge.
pub const EDGE: Token = 2;

/// Position of the first token of column `j` (1-based column, `j ≥ 1`).
const fn column_start(j: usize) -> usize {
    (j - 1) * (j + 2) / 2
}

/// Position of the op token of column `j`, `(j + 3) * j / 2 - 1` in SemiNAS's decoder.
const fn op_position(j: usize) -> usize {
    column_start(j) + j
}

/// Whether sequence position `pos` holds an op token (positions 1, 4, 8, 13, 19, 26).
pub fn is_op_position(pos: usize) -> bool {
    (1..MAX_VERTICES).any(|j| op_position(j) == pos)
}

/// The op token of a vertex (`None` for the input, which has no token).
pub fn op_token(op: Op) -> Option<Token> {
    match op {
        Op::Input => None,
        Op::Conv1x1 => Some(3),
        Op::Conv3x3 => Some(4),
        Op::MaxPool3x3 => Some(5),
        Op::Output => Some(6),
    }
}

/// The op of an op token (3 to 6).
pub fn token_op(token: Token) -> Option<Op> {
    match token {
        3 => Some(Op::Conv1x1),
        4 => Some(Op::Conv3x3),
        5 => Some(Op::MaxPool3x3),
        6 => Some(Op::Output),
        _ => None,
    }
}

/// The tokens a decoder may emit at each position: edges `{1, 2}`, ops `{3, 4, 5, 6}` (as
/// SemiNAS's decoder, which picks edges among tokens 1..=2 and ops among 3..).
pub fn allowed() -> Vec<Vec<Token>> {
    (0..SEQ_LEN)
        .map(|pos| {
            if is_op_position(pos) {
                vec![3, 4, 5, 6]
            } else {
                vec![NO_EDGE, EDGE]
            }
        })
        .collect()
}

/// Encodes a valid cell (`convert_arch_to_seq`).
pub fn encode(spec: &ModelSpec) -> [Token; SEQ_LEN] {
    let mut seq = [PAD; SEQ_LEN];
    let n = spec.num_vertices();
    for j in 1..n {
        let start = column_start(j);
        for i in 0..j {
            seq[start + i] = if spec.has_edge(i, j) { EDGE } else { NO_EDGE };
        }
        seq[start + j] = op_token(spec.ops()[j]).expect("only vertex 0 is the input");
    }
    seq
}

/// Reads a sequence as a cell before pruning, without pruning it.
///
/// Columns made only of zeros are padding; they must come after every other column, and the
/// other columns must hold no zeros. Edge positions take `1`/`2` and op positions `3..=6`.
pub fn decode_raw(tokens: &[Token]) -> Result<RawCell, SpecError> {
    if tokens.len() != SEQ_LEN {
        return Err(SpecError::Malformed(format!(
            "expected {SEQ_LEN} tokens, got {}",
            tokens.len()
        )));
    }
    if let Some((pos, &t)) = tokens.iter().enumerate().find(|(_, &t)| t >= VOCAB_SIZE) {
        return Err(SpecError::Malformed(format!(
            "token {t} at position {pos} is out of range 0..{VOCAB_SIZE}"
        )));
    }
    let column = |j: usize| &tokens[column_start(j)..=op_position(j)];
    // Number of vertices: the input plus every column before the first all-zero one.
    let n = (1..MAX_VERTICES)
        .find(|&j| column(j).iter().all(|&t| t == PAD))
        .unwrap_or(MAX_VERTICES);
    if n < 2 {
        return Err(SpecError::Malformed("the sequence is all padding".into()));
    }
    for j in n..MAX_VERTICES {
        if let Some(i) = column(j).iter().position(|&t| t != PAD) {
            return Err(SpecError::Malformed(format!(
                "token {} at position {} follows padding",
                column(j)[i],
                column_start(j) + i
            )));
        }
    }
    let mut ops = [Op::Input; MAX_VERTICES];
    for j in 1..n {
        let t = tokens[op_position(j)];
        ops[j] = token_op(t).ok_or_else(|| {
            SpecError::Malformed(format!(
                "token {t} at position {} should be an op token (3 to 6)",
                op_position(j)
            ))
        })?;
    }
    let mut raw = RawCell::new(&ops[..n]);
    for j in 1..n {
        for i in 0..j {
            let pos = column_start(j) + i;
            match tokens[pos] {
                NO_EDGE => {}
                EDGE => raw.set_edge(i, j, true),
                t => {
                    return Err(SpecError::Malformed(format!(
                        "token {t} at position {pos} should be an edge token (1 or 2)"
                    )))
                }
            }
        }
    }
    Ok(raw)
}

/// Decodes a sequence into a pruned, valid cell; every invalid sequence is an error.
pub fn decode(tokens: &[Token]) -> Result<ModelSpec, SpecError> {
    decode_raw(tokens)?.prune()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_seminas() {
        assert_eq!(SEQ_LEN, 27);
        let ops: Vec<usize> = (0..SEQ_LEN).filter(|&p| is_op_position(p)).collect();
        // SemiNAS decoder offsets: (i + 3) * i // 2 - 1 for i = 1..=6.
        let seminas: Vec<usize> = (1..7).map(|i| (i + 3) * i / 2 - 1).collect();
        assert_eq!(ops, seminas);
        let allowed = allowed();
        assert_eq!(allowed.len(), 27);
        assert_eq!(allowed[1], vec![3, 4, 5, 6]);
        assert_eq!(allowed[0], vec![1, 2]);
    }

    #[test]
    fn readme_example_sequence() {
        let spec = ModelSpec::from_matrix(
            &[
                [0u8, 1, 1, 1, 0, 1, 0],
                [0, 0, 0, 0, 0, 0, 1],
                [0, 0, 0, 0, 0, 0, 1],
                [0, 0, 0, 0, 1, 0, 0],
                [0, 0, 0, 0, 0, 0, 1],
                [0, 0, 0, 0, 0, 0, 1],
                [0, 0, 0, 0, 0, 0, 0],
            ],
            &[
                "input",
                "conv1x1-bn-relu",
                "conv3x3-bn-relu",
                "conv3x3-bn-relu",
                "conv3x3-bn-relu",
                "maxpool3x3",
                "output",
            ],
        )
        .unwrap();
        let seq = encode(&spec);
        #[rustfmt::skip]
        let want = [
            2, 3,
            2, 1, 4,
            2, 1, 1, 4,
            1, 1, 1, 2, 4,
            2, 1, 1, 1, 1, 5,
            1, 2, 2, 1, 2, 2, 6,
        ];
        assert_eq!(seq, want);
        assert_eq!(decode(&seq).unwrap(), spec);
    }

    #[test]
    fn small_cells_are_padded() {
        let spec = ModelSpec::from_matrix(
            &[[0u8, 1, 1], [0, 0, 1], [0, 0, 0]],
            &["input", "maxpool3x3", "output"],
        )
        .unwrap();
        let seq = encode(&spec);
        assert_eq!(&seq[..5], &[2, 5, 2, 2, 6]);
        assert!(seq[5..].iter().all(|&t| t == 0));
        assert_eq!(decode(&seq).unwrap(), spec);
    }

    #[test]
    fn invalid_sequences_are_errors() {
        let good = [
            2, 3, 2, 1, 4, 2, 1, 1, 4, 1, 1, 1, 2, 4, 2, 1, 1, 1, 1, 5, 1, 2, 2, 1, 2, 2, 6,
        ];
        assert!(decode(&good).is_ok());
        assert!(decode(&good[..26]).is_err());
        assert!(decode(&[0; 27]).is_err());
        let mut bad = good;
        bad[3] = 7;
        assert!(decode(&bad).is_err());
        let mut bad = good;
        bad[3] = 4; // op token at an edge position
        assert!(decode(&bad).is_err());
        let mut bad = good;
        bad[4] = 2; // edge token at an op position
        assert!(decode(&bad).is_err());
        let mut bad = good;
        bad[26] = 4; // last vertex is not the output
        assert!(matches!(decode(&bad), Err(SpecError::LastNotOutput(_))));
        let mut bad = good;
        bad[10] = 0; // padding inside a column
        assert!(decode(&bad).is_err());
        let mut bad = good;
        bad[9..14].fill(0); // a padding column followed by a real one
        assert!(decode(&bad).is_err());
        let mut bad = good;
        bad[13] = 6; // an output label in the middle that pruning keeps
        assert!(matches!(decode(&bad), Err(SpecError::BadOp(_, _))));
        // As in the official check, too many edges is reported before a wrong last op.
        let mut all: Vec<Token> = (0..27)
            .map(|p| if is_op_position(p) { 4 } else { 2 })
            .collect();
        assert!(matches!(decode(&all), Err(SpecError::TooManyEdges(21))));
        all[26] = 6;
        assert!(matches!(decode(&all), Err(SpecError::TooManyEdges(21))));
        let mut disconnected: Vec<Token> = (0..27)
            .map(|p| if is_op_position(p) { 4 } else { 1 })
            .collect();
        disconnected[26] = 6;
        assert_eq!(decode(&disconnected).unwrap_err(), SpecError::Disconnected);
    }

    #[test]
    fn pruned_middle_output_label_is_accepted() {
        // Vertex 1 is labelled output but dangles (no edge from it), so pruning removes it.
        let mut seq = [0; 27];
        seq[0] = 2;
        seq[1] = 6;
        seq[2] = 2; // 0 -> 2
        seq[3] = 1;
        seq[4] = 6; // vertex 2 is the output of a 3-vertex cell
        let spec = decode(&seq).unwrap();
        assert_eq!(spec.num_vertices(), 2);
    }
}
