//! Same inputs and seeds give the same actions, byte for byte.

mod common;

use common::*;

fn scenario() -> Vec<String> {
    let mut c = Cluster::new(5);
    let l = c.elect();
    for k in 0..50 {
        // Through the leader, or relayed by a follower with the prerequisite it last applied.
        let at = (l + k) % 5;
        let prereq = c.nodes[at].applied.last().map(|(_, e, _)| *e);
        let leader = c.leader().unwrap_or(l);
        if at == leader {
            c.execute(at, &format!("cmd {k}"), None)
        } else {
            c.execute(at, &format!("cmd {k}"), prereq)
        };
        c.advance(37);
    }
    c.isolate(l);
    c.advance(5_000);
    c.heal();
    c.crash((l + 1) % 5);
    c.advance(3_000);
    c.restart((l + 1) % 5);
    c.advance(3_000);
    c.trace
}

#[test]
fn same_seed_same_trace_byte_for_byte() {
    let a = scenario();
    let b = scenario();
    assert!(
        a.len() > 1_000,
        "a trivial scenario proves nothing ({} actions)",
        a.len()
    );
    assert_eq!(a, b);
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    let mut c = Cluster::new(3);
    let mut d = Cluster::new(3);
    for i in 0..3 {
        c.nodes[i].seed += 100;
        c.crash(i);
        c.restart(i);
        d.crash(i);
        d.restart(i);
    }
    c.elect();
    d.elect();
    assert_ne!(c.trace, d.trace, "the seed changes nothing?");
}
