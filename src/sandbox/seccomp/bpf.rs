//! The BPF code generator: ONE seccomp program per policy, dispatching on the syscall number
//! with a binary search.
//!
//! The program is laid out as
//!
//! ```text
//! ld  seccomp_data.arch
//! jeq AUDIT_ARCH_<host>, +1, +0
//! ret KILL_PROCESS                     ; a foreign architecture (int 0x80 on x86_64, ...)
//! ld  seccomp_data.nr
//! <binary search over disjoint intervals of syscall numbers, each ending in a leaf>
//! ```
//!
//! The number space `0..=u32::MAX` is cut into intervals that behave alike (runs of unnamed
//! numbers, a named syscall, the x32 range on x86_64). An inner node is one `jge` on the first
//! number of its right half, so a syscall costs about log2(intervals) comparisons instead of a
//! walk over every named syscall, and the kernel's per-syscall action cache (computed by
//! emulating the filter for every syscall number at attach time) becomes cheap to build.
//!
//! A leaf is either a constant `ret`, or the argument checks of one syscall: the checks of the
//! policy's segments in order (kill rules first, then each errno in order of first use), the
//! first matching alternative returning its segment's action, else the fallback (the first
//! unconditional segment, or the allow-list / default decision). This is exactly the
//! first-decision-wins order the previous chained program had, without its arch/x32 prelude
//! program stacked in front.

use std::collections::BTreeMap;

/// Classic BPF opcodes (`linux/filter.h`).
pub(super) const LD_W_ABS: u16 = 0x20;
pub(super) const ALU_AND_K: u16 = 0x54;
pub(super) const JMP_JA: u16 = 0x05;
pub(super) const JMP_JEQ_K: u16 = 0x15;
pub(super) const JMP_JGT_K: u16 = 0x25;
pub(super) const JMP_JGE_K: u16 = 0x35;
pub(super) const RET_K: u16 = 0x06;

/// Offsets into `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
const DATA_ARGS: u32 = 16;

/// How one argument is compared (the same operators, with the same meaning, seccompiler had).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `arg & mask == value & mask`.
    MaskedEq(u64),
}

/// One comparison of a syscall argument against a constant (unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cond {
    /// Argument index, 0..=5.
    pub arg: u8,
    /// `true`: compare all 64 bits; `false`: the low 32 bits only.
    pub wide: bool,
    pub op: CmpOp,
    pub value: u64,
}

/// A disjunction of conjunctions of conditions.
pub(super) type Alternatives = Vec<Vec<Cond>>;

/// What one syscall number (or a run of numbers) resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Leaf {
    /// A constant seccomp return value.
    Ret(u32),
    /// Argument checks in order: the first step with a matching alternative returns its
    /// action; when none matches, `fallback`.
    Checks {
        steps: Vec<(Alternatives, u32)>,
        fallback: u32,
    },
}

/// The architecture check of the program.
pub(super) struct Arch {
    /// `AUDIT_ARCH_*` of the host; any other value in `seccomp_data.arch` is killed.
    pub audit: u32,
    /// x86_64: numbers in `X32_SYSCALL_BIT..u32::MAX` are x32 syscalls and are killed
    /// (`u32::MAX`, i.e. -1, is what tracers use to skip a syscall; it gets `otherwise`).
    pub x32_bit: Option<u32>,
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn offset(n: usize) -> Result<u8, String> {
    u8::try_from(n).map_err(|_| format!("a conditional jump of {n} instructions (at most 255)"))
}

/// Builds the whole program. `leaves` holds every syscall number whose leaf may differ from
/// `Ret(otherwise)`; every other number returns `otherwise`.
pub(super) fn program(
    arch: &Arch,
    leaves: &BTreeMap<u32, Leaf>,
    otherwise: u32,
) -> Result<Vec<libc::sock_filter>, String> {
    let intervals = intervals(arch, leaves, otherwise);
    let mut out = vec![
        stmt(LD_W_ABS, DATA_ARCH),
        jump(JMP_JEQ_K, arch.audit, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, DATA_NR),
    ];
    out.extend(search(&intervals)?);
    Ok(out)
}

/// Cuts `0..=u32::MAX` into maximal runs of numbers with the same leaf, as
/// `(first number, leaf)` sorted by first number (the first one starts at 0).
fn intervals(arch: &Arch, leaves: &BTreeMap<u32, Leaf>, otherwise: u32) -> Vec<(u32, Leaf)> {
    let mut starts: BTreeMap<u32, Leaf> = BTreeMap::new();
    starts.insert(0, Leaf::Ret(otherwise));
    let limit = arch.x32_bit.unwrap_or(u32::MAX);
    for (&nr, leaf) in leaves.range(..limit) {
        starts.insert(nr, leaf.clone());
    }
    for &nr in leaves.range(..limit).map(|(nr, _)| nr) {
        if let Some(next) = nr.checked_add(1) {
            starts.entry(next).or_insert(Leaf::Ret(otherwise));
        }
    }
    if let Some(bit) = arch.x32_bit {
        starts.insert(bit, Leaf::Ret(libc::SECCOMP_RET_KILL_PROCESS));
        starts.insert(u32::MAX, Leaf::Ret(otherwise));
    }
    let mut out: Vec<(u32, Leaf)> = Vec::with_capacity(starts.len());
    for (nr, leaf) in starts {
        if out.last().is_some_and(|(_, prev)| *prev == leaf) {
            continue;
        }
        out.push((nr, leaf));
    }
    out
}

/// The binary search over `intervals` (non-empty, sorted): the accumulator holds the number.
fn search(intervals: &[(u32, Leaf)]) -> Result<Vec<libc::sock_filter>, String> {
    match intervals {
        [] => return Err("internal: an empty interval list".into()),
        [(_, leaf)] => return leaf_code(leaf),
        _ => {}
    }
    let (left, right) = intervals.split_at(intervals.len() / 2);
    let pivot = right.first().map_or(0, |(nr, _)| *nr);
    let left = search(left)?;
    let right = search(right)?;
    let mut out = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        // nr >= pivot: jump over the left half.
        Ok(skip) => out.push(jump(JMP_JGE_K, pivot, skip, 0)),
        // Too far for a conditional jump: go through an unconditional one.
        Err(_) => {
            out.push(jump(JMP_JGE_K, pivot, 0, 1));
            let far = u32::try_from(left.len()).map_err(|e| e.to_string())?;
            out.push(stmt(JMP_JA, far));
        }
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

fn leaf_code(leaf: &Leaf) -> Result<Vec<libc::sock_filter>, String> {
    match leaf {
        Leaf::Ret(k) => Ok(vec![stmt(RET_K, *k)]),
        Leaf::Checks { steps, fallback } => {
            // Built back to front: each alternative falls through to what follows it.
            let mut code = vec![stmt(RET_K, *fallback)];
            for (alternatives, ret) in steps.iter().rev() {
                for conj in alternatives.iter().rev() {
                    let mut block = conjunction(conj, *ret)?;
                    block.extend(code);
                    code = block;
                }
            }
            Ok(code)
        }
    }
}

/// `conds` all true: `ret`; any false: continue right after the block.
fn conjunction(conds: &[Cond], ret: u32) -> Result<Vec<libc::sock_filter>, String> {
    let lens: Vec<usize> = conds.iter().map(cond_len).collect();
    let mut out = Vec::with_capacity(lens.iter().sum::<usize>() + 1);
    for (i, cond) in conds.iter().enumerate() {
        // From the end of this condition to the instruction after the block's `ret`.
        let fail = lens.iter().skip(i + 1).sum::<usize>() + 1;
        out.extend(cond_code(cond, fail)?);
    }
    out.push(stmt(RET_K, ret));
    Ok(out)
}

fn cond_len(c: &Cond) -> usize {
    let low = if matches!(c.op, CmpOp::MaskedEq(_)) {
        3
    } else {
        2
    };
    match (c.wide, c.op) {
        (false, _) => low,
        (true, CmpOp::Eq | CmpOp::Ne) => 4,
        (true, CmpOp::MaskedEq(_)) => 6,
        (true, _) => 5,
    }
}

/// The code of one condition: falls through when it holds, else jumps `fail` instructions
/// past its own end.
fn cond_code(c: &Cond, fail: usize) -> Result<Vec<libc::sock_filter>, String> {
    let base = DATA_ARGS + 8 * u32::from(c.arg);
    let (lo_at, hi_at) = if cfg!(target_endian = "little") {
        (base, base + 4)
    } else {
        (base + 4, base)
    };
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let f = offset(fail)?;
    let code = match (c.wide, c.op) {
        (false, CmpOp::MaskedEq(m)) => vec![
            stmt(LD_W_ABS, lo_at),
            stmt(ALU_AND_K, m as u32),
            jump(JMP_JEQ_K, lo & m as u32, 0, f),
        ],
        (false, op) => {
            let (code, jt, jf) = match op {
                CmpOp::Eq => (JMP_JEQ_K, 0, f),
                CmpOp::Ne => (JMP_JEQ_K, f, 0),
                CmpOp::Ge => (JMP_JGE_K, 0, f),
                CmpOp::Gt => (JMP_JGT_K, 0, f),
                CmpOp::Le => (JMP_JGT_K, f, 0),
                CmpOp::Lt => (JMP_JGE_K, f, 0),
                CmpOp::MaskedEq(_) => unreachable_op()?,
            };
            vec![stmt(LD_W_ABS, lo_at), jump(code, lo, jt, jf)]
        }
        (true, CmpOp::Eq) => vec![
            stmt(LD_W_ABS, hi_at),
            jump(JMP_JEQ_K, hi, 0, offset(fail + 2)?),
            stmt(LD_W_ABS, lo_at),
            jump(JMP_JEQ_K, lo, 0, f),
        ],
        (true, CmpOp::Ne) => vec![
            stmt(LD_W_ABS, hi_at),
            // High words differ: the condition holds, skip the low-word test.
            jump(JMP_JEQ_K, hi, 0, 2),
            stmt(LD_W_ABS, lo_at),
            jump(JMP_JEQ_K, lo, f, 0),
        ],
        (true, CmpOp::Ge | CmpOp::Gt) => vec![
            stmt(LD_W_ABS, hi_at),
            jump(JMP_JGT_K, hi, 3, 0),
            jump(JMP_JEQ_K, hi, 0, offset(fail + 2)?),
            stmt(LD_W_ABS, lo_at),
            if c.op == CmpOp::Ge {
                jump(JMP_JGE_K, lo, 0, f)
            } else {
                jump(JMP_JGT_K, lo, 0, f)
            },
        ],
        (true, CmpOp::Le | CmpOp::Lt) => vec![
            stmt(LD_W_ABS, hi_at),
            jump(JMP_JGT_K, hi, offset(fail + 3)?, 0),
            jump(JMP_JEQ_K, hi, 0, 2),
            stmt(LD_W_ABS, lo_at),
            if c.op == CmpOp::Le {
                jump(JMP_JGT_K, lo, f, 0)
            } else {
                jump(JMP_JGE_K, lo, f, 0)
            },
        ],
        (true, CmpOp::MaskedEq(m)) => vec![
            stmt(LD_W_ABS, hi_at),
            stmt(ALU_AND_K, (m >> 32) as u32),
            jump(JMP_JEQ_K, hi & (m >> 32) as u32, 0, offset(fail + 3)?),
            stmt(LD_W_ABS, lo_at),
            stmt(ALU_AND_K, m as u32),
            jump(JMP_JEQ_K, lo & m as u32, 0, f),
        ],
    };
    debug_assert_eq!(code.len(), cond_len(c));
    Ok(code)
}

fn unreachable_op() -> Result<(u16, u8, u8), String> {
    Err("internal: masked_eq handled above".into())
}
