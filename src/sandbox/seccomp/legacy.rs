//! The previous compiler (seccompiler segments chained into one program, stacked behind a
//! separate arch/x32 prelude program), kept verbatim for the tests only: the equivalence test
//! checks that the single binary-search program decides every syscall exactly as this pair of
//! programs did under the kernel's multi-filter rules.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::bpf::{self, CmpOp};
use super::{Action, HOST, HostArch, KillMode, SeccompPolicy, X32_SYSCALL_BIT};

/// The placeholder `kill` was compiled to before being rewritten to USER_NOTIF/KILL_PROCESS.
const KILL_MARKER_DATA: u32 = 0x5ecc;
const KILL_MARKER: u32 = libc::SECCOMP_RET_TRACE | KILL_MARKER_DATA;
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;

fn condition(c: &bpf::Cond) -> SeccompCondition {
    let len = if c.wide {
        SeccompCmpArgLen::Qword
    } else {
        SeccompCmpArgLen::Dword
    };
    let op = match c.op {
        CmpOp::Eq => SeccompCmpOp::Eq,
        CmpOp::Ne => SeccompCmpOp::Ne,
        CmpOp::Lt => SeccompCmpOp::Lt,
        CmpOp::Le => SeccompCmpOp::Le,
        CmpOp::Gt => SeccompCmpOp::Gt,
        CmpOp::Ge => SeccompCmpOp::Ge,
        CmpOp::MaskedEq(m) => SeccompCmpOp::MaskedEq(m),
    };
    SeccompCondition::new(c.arg, len, op, c.value).expect("valid condition")
}

/// The programs the previous compiler produced: `[prelude, chained policy]` (or `[prelude]`).
pub(super) fn compile(
    policy: &SeccompPolicy,
    network: bool,
    kill_mode: KillMode,
) -> Vec<Vec<libc::sock_filter>> {
    if policy.disabled {
        return Vec::new();
    }
    let host = HOST.as_ref().expect("supported host");
    let plan = policy.plan(network, kill_mode);
    let marker = SeccompAction::Trace(KILL_MARKER_DATA);
    let segment = |map: &BTreeMap<i64, Option<bpf::Alternatives>>,
                   matched: SeccompAction,
                   mismatched: SeccompAction|
     -> BpfProgram {
        let rules: BTreeMap<i64, Vec<SeccompRule>> = map
            .iter()
            .map(|(nr, alts)| {
                let rules = alts
                    .iter()
                    .flatten()
                    .map(|conj| {
                        SeccompRule::new(conj.iter().map(condition).collect()).expect("rule")
                    })
                    .collect();
                (*nr, rules)
            })
            .collect();
        let target = if cfg!(target_arch = "aarch64") {
            TargetArch::aarch64
        } else {
            TargetArch::x86_64
        };
        let filter = SeccompFilter::new(rules, mismatched, matched, target).expect("seccompiler");
        BpfProgram::try_from(filter).expect("seccompiler")
    };

    let mut segments = Vec::new();
    for (kind, map) in &plan.segments {
        let matched = match kind {
            super::SegmentKind::Kill => marker.clone(),
            super::SegmentKind::Errno(e) => SeccompAction::Errno(*e),
        };
        segments.push(segment(map, matched, SeccompAction::Allow));
    }
    if policy.default_action != Action::Allow {
        let default = match policy.default_action {
            Action::Errno(e) => SeccompAction::Errno(e),
            _ => marker.clone(),
        };
        let map = plan.named.iter().map(|nr| (*nr, None)).collect();
        segments.push(segment(&map, SeccompAction::Allow, default));
    }
    let kill_ret = match kill_mode {
        KillMode::Notify => libc::SECCOMP_RET_USER_NOTIF,
        KillMode::Process => libc::SECCOMP_RET_KILL_PROCESS,
    };
    let mut programs = vec![prelude(host)];
    if !segments.is_empty() {
        let program = chain(segments)
            .into_iter()
            .map(|f| libc::sock_filter {
                code: f.code,
                jt: f.jt,
                jf: f.jf,
                k: if f.code == BPF_RET_K && f.k == KILL_MARKER {
                    kill_ret
                } else {
                    f.k
                },
            })
            .collect();
        programs.push(program);
    }
    programs
}

/// Chains seccompiler segments into one program: in every segment but the last, `RET ALLOW`
/// becomes `JA` to the first instruction of the next segment.
fn chain(segments: Vec<BpfProgram>) -> BpfProgram {
    let count = segments.len();
    let mut out = Vec::new();
    for (i, segment) in segments.into_iter().enumerate() {
        let len = segment.len();
        let last = i + 1 == count;
        for (j, mut insn) in segment.into_iter().enumerate() {
            if !last && insn.code == BPF_RET_K && insn.k == libc::SECCOMP_RET_ALLOW {
                insn.code = BPF_JMP_JA;
                insn.jt = 0;
                insn.jf = 0;
                insn.k = u32::try_from(len - j - 1).unwrap_or(u32::MAX);
            }
            out.push(insn);
        }
    }
    out
}

/// The old prelude: kill a foreign architecture and the x32 range (except -1), allow the rest.
pub(super) fn prelude(host: &HostArch) -> Vec<libc::sock_filter> {
    let stmt = |code: u16, k: u32| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
    let mut p = vec![
        stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
        jump(BPF_JMP_JEQ_K, host.audit, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    if host.x32 {
        p.extend([
            stmt(BPF_LD_W_ABS, SECCOMP_DATA_NR),
            jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 2),
            jump(BPF_JMP_JEQ_K, u32::MAX, 1, 0),
            stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        ]);
    }
    p.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
    p
}
