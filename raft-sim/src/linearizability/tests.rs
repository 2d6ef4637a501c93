use std::collections::BTreeMap;

use super::*;

/// Builds histories tersely: each call records one operation with its interval.
struct Builder(History);

impl Builder {
    fn new() -> Self {
        Self(History::new())
    }

    fn done(&mut self, client: u64, op: Op, (from, to): (u64, u64), response: Response) -> OpId {
        let id = self.0.invoke(ClientId(client), op, from);
        self.0.complete(id, response, to);
        id
    }

    fn put(&mut self, client: u64, key: &str, value: &str, at: (u64, u64)) -> OpId {
        self.done(client, Op::put(key, value), at, Response::Ok)
    }

    fn get(&mut self, client: u64, key: &str, read: Option<&str>, at: (u64, u64)) -> OpId {
        self.done(
            client,
            Op::get(key),
            at,
            Response::Value(read.map(str::to_owned)),
        )
    }

    fn unknown(&mut self, client: u64, op: Op, invoked_at: u64) -> OpId {
        let id = self.0.invoke(ClientId(client), op, invoked_at);
        self.0.fail_unknown(id);
        id
    }

    fn check(&self) -> Verdict {
        check(&self.0)
    }
}

fn assert_violated(verdict: &Verdict, expected_key: &str) -> String {
    match verdict {
        Verdict::NotLinearizable { key, explanation } if key == expected_key => explanation.clone(),
        other => panic!("expected a violation on {expected_key:?}, got {other}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    assert_eq!(check(&History::new()), Verdict::Linearizable);
}

#[test]
fn sequential_read_sees_the_last_write() {
    let mut h = Builder::new();
    h.get(1, "x", None, (0, 1));
    h.put(1, "x", "a", (2, 3));
    h.put(2, "x", "b", (4, 5));
    h.get(3, "x", Some("b"), (6, 7));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn stale_read_after_a_completed_write_is_a_violation() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.put(2, "x", "b", (2, 3));
    h.get(3, "x", Some("a"), (4, 5));
    let explanation = assert_violated(&h.check(), "x");
    let expected = r#"the responses up to t=3 are explained by the order below, but no order also explains the response at t=5 of:
  #2 client 3 [4, 5] get("x") -> Some("a")
the order (2 operations, last 2 shown), leaving "x" = Some("b"):
  #0 client 1 [0, 1] put("x", "a") -> ok
  #1 client 2 [2, 3] put("x", "b") -> ok
operations invoked by t=5 and not in the order (0):"#;
    assert_eq!(explanation, expected);
}

#[test]
fn explanation_names_the_first_unexplained_response_and_the_open_operations() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.unknown(2, Op::put("x", "b"), 2);
    h.get(3, "x", Some("b"), (3, 4));
    h.put(4, "x", "c", (5, 50));
    h.get(3, "x", Some("a"), (10, 11));
    h.get(3, "x", Some("c"), (60, 61));
    let explanation = assert_violated(&h.check(), "x");
    let expected = r#"the responses up to t=4 are explained by the order below, but no order also explains the response at t=11 of:
  #4 client 3 [10, 11] get("x") -> Some("a")
the order (3 operations, last 3 shown), leaving "x" = Some("b"):
  #0 client 1 [0, 1] put("x", "a") -> ok
  #1 client 2 [2, ?] put("x", "b") -> unknown
  #2 client 3 [3, 4] get("x") -> Some("b")
operations invoked by t=11 and not in the order (1):
  #3 client 4 [5, 50] put("x", "c") -> ok"#;
    assert_eq!(explanation, expected);
}

#[test]
fn read_concurrent_with_a_write_may_see_either_value() {
    for read in [None, Some("a")] {
        let mut h = Builder::new();
        h.put(1, "x", "a", (0, 10));
        h.get(2, "x", read, (5, 6));
        assert_eq!(h.check(), Verdict::Linearizable, "read {read:?}");
    }
}

#[test]
fn reads_may_not_see_a_concurrent_write_and_then_unsee_it() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 100));
    h.get(2, "x", Some("a"), (10, 20));
    h.get(3, "x", None, (30, 40));
    assert_violated(&h.check(), "x");
}

#[test]
fn equal_response_and_invocation_times_count_as_concurrent() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 10));
    h.get(2, "x", None, (10, 11));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn read_of_a_value_nobody_wrote_is_a_violation() {
    let mut h = Builder::new();
    h.get(1, "x", Some("ghost"), (0, 1));
    assert_violated(&h.check(), "x");
}

#[test]
fn unknown_write_may_have_taken_effect() {
    let mut h = Builder::new();
    h.unknown(1, Op::put("x", "a"), 0);
    h.get(2, "x", Some("a"), (10, 11));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn unknown_write_may_never_take_effect() {
    let mut h = Builder::new();
    h.unknown(1, Op::put("x", "a"), 0);
    h.get(2, "x", None, (10, 11));
    h.get(2, "x", None, (1000, 1001));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn unknown_write_may_take_effect_late() {
    let mut h = Builder::new();
    h.unknown(1, Op::put("x", "a"), 0);
    h.get(2, "x", None, (10, 11));
    h.get(2, "x", Some("a"), (1000, 1001));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn unknown_write_cannot_take_effect_before_it_was_invoked() {
    let mut h = Builder::new();
    h.get(2, "x", Some("a"), (0, 5));
    h.unknown(1, Op::put("x", "a"), 10);
    assert_violated(&h.check(), "x");
}

#[test]
fn unknown_write_takes_effect_at_most_once() {
    let mut h = Builder::new();
    h.unknown(1, Op::put("x", "a"), 0);
    h.get(2, "x", Some("a"), (10, 11));
    h.put(3, "x", "b", (12, 13));
    h.get(2, "x", Some("a"), (14, 15));
    assert_violated(&h.check(), "x");
}

#[test]
fn pending_operations_count_as_unknown() {
    let mut h = Builder::new();
    h.0.invoke(ClientId(1), Op::put("x", "a"), 0);
    h.get(2, "x", Some("a"), (10, 11));
    assert_eq!(h.check(), Verdict::Linearizable);
}

#[test]
fn operations_not_applied_are_ignored() {
    let mut h = Builder::new();
    let put = h.0.invoke(ClientId(1), Op::put("x", "a"), 0);
    h.0.fail_not_applied(put);
    h.get(2, "x", Some("a"), (10, 11));
    assert_violated(&h.check(), "x");
}

#[test]
fn cas_on_a_missing_key_succeeds_only_when_expecting_missing() {
    let mut h = Builder::new();
    h.done(
        1,
        Op::cas("x", Some("a"), "b"),
        (0, 1),
        Response::Cas(false),
    );
    h.done(1, Op::cas("x", None, "a"), (2, 3), Response::Cas(true));
    h.get(1, "x", Some("a"), (4, 5));
    assert_eq!(h.check(), Verdict::Linearizable);

    let mut h = Builder::new();
    h.done(1, Op::cas("x", Some("a"), "b"), (0, 1), Response::Cas(true));
    assert_violated(&h.check(), "x");
}

#[test]
fn failed_cas_proves_the_value_differed() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.done(
        2,
        Op::cas("x", Some("a"), "b"),
        (2, 3),
        Response::Cas(false),
    );
    assert_violated(&h.check(), "x");
}

#[test]
fn concurrent_cas_only_one_wins() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.done(
        2,
        Op::cas("x", Some("a"), "b"),
        (2, 10),
        Response::Cas(true),
    );
    h.done(
        3,
        Op::cas("x", Some("a"), "c"),
        (2, 10),
        Response::Cas(false),
    );
    h.get(4, "x", Some("b"), (11, 12));
    assert_eq!(h.check(), Verdict::Linearizable);

    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.done(
        2,
        Op::cas("x", Some("a"), "b"),
        (2, 10),
        Response::Cas(true),
    );
    h.done(
        3,
        Op::cas("x", Some("a"), "c"),
        (2, 10),
        Response::Cas(true),
    );
    assert_violated(&h.check(), "x");
}

#[test]
fn unknown_cas_applies_only_if_the_comparison_holds() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.unknown(2, Op::cas("x", Some("a"), "b"), 2);
    h.get(3, "x", Some("b"), (10, 11));
    assert_eq!(h.check(), Verdict::Linearizable);

    let mut h = Builder::new();
    h.put(1, "x", "z", (0, 1));
    h.unknown(2, Op::cas("x", Some("a"), "b"), 2);
    h.get(3, "x", Some("b"), (10, 11));
    assert_violated(&h.check(), "x");
}

#[test]
fn delete_makes_the_key_missing() {
    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.done(1, Op::delete("x"), (2, 3), Response::Ok);
    h.get(2, "x", None, (4, 5));
    h.done(2, Op::cas("x", None, "b"), (6, 7), Response::Cas(true));
    assert_eq!(h.check(), Verdict::Linearizable);

    let mut h = Builder::new();
    h.put(1, "x", "a", (0, 1));
    h.done(1, Op::delete("x"), (2, 3), Response::Ok);
    h.get(2, "x", Some("a"), (4, 5));
    assert_violated(&h.check(), "x");
}

#[test]
fn keys_are_checked_independently() {
    let mut h = Builder::new();
    // Read "y" before the write to "x" completes: in real time the read of x sees the older
    // value, which is fine per key even though the operations interleave across keys.
    h.put(1, "x", "a", (0, 10));
    h.put(2, "y", "b", (0, 1));
    h.get(3, "y", Some("b"), (2, 3));
    h.get(3, "x", None, (4, 5));
    assert_eq!(h.check(), Verdict::Linearizable);

    // A value written to one key is never visible under another.
    h.get(4, "z", Some("a"), (20, 21));
    assert_violated(&h.check(), "z");
}

#[test]
fn violation_on_one_key_wins_over_an_undecided_key() {
    let mut h = Builder::new();
    for i in 0..20 {
        h.put(i, "a", "v", (0, 100));
    }
    h.get(1, "b", Some("ghost"), (0, 1));
    let limits = Limits {
        max_ops_per_key: 10,
        ..Limits::default()
    };
    assert!(matches!(check_with(&h.0, limits), Verdict::NotLinearizable { key, .. } if key == "b"));
}

#[test]
fn exceeding_a_limit_gives_unknown() {
    let mut h = Builder::new();
    for i in 0..20 {
        h.put(i, "x", &i.to_string(), (0, 100));
    }
    h.get(99, "x", Some("19"), (101, 102));
    let few_ops = Limits {
        max_ops_per_key: 10,
        ..Limits::default()
    };
    let few_steps = Limits {
        max_steps_per_key: 5,
        ..Limits::default()
    };
    for limits in [few_ops, few_steps] {
        assert!(
            matches!(check_with(&h.0, limits), Verdict::Unknown { .. }),
            "{limits:?}"
        );
    }
    assert_eq!(h.check(), Verdict::Linearizable);
}

/// Cross-checks the search against brute force over every order on many small random
/// histories, about a third of them with one response corrupted: first with a few unknown
/// outcomes, then with many (which exercises the dominance and symmetry reductions).
#[test]
fn agrees_with_brute_force_on_small_random_histories() {
    let mut rng = SplitMix(7);
    for (max_ops, unknown_one_in) in [(7, 6), (8, 2)] {
        let mut violations = 0;
        for case in 0..2000 {
            let ops = 1 + rng.below(max_ops);
            let clients = 1 + rng.below(4);
            let shape = Shape {
                ops,
                keys: 1,
                clients,
                unknown_one_in,
            };
            let corrupt = rng.below(3) == 0;
            let history = random_history(&mut rng, shape, corrupt);
            let expected = brute_force(&history);
            let verdict = check(&history);
            let context = format!("case {case} of 1/{unknown_one_in} unknown: {verdict}");
            assert_eq!(
                verdict.is_linearizable(),
                expected,
                "{context}\n{history:#?}"
            );
            violations += usize::from(!expected);
        }
        // Make sure both verdicts were exercised a fair amount.
        assert!((100..1900).contains(&violations), "{violations} violations");
    }
}

/// The size a simulator produces: thousands of operations, tens of keys, some timed out.
#[test]
fn thousands_of_concurrent_operations_are_decided_within_the_default_limits() {
    let shape = Shape {
        ops: 5000,
        keys: 20,
        clients: 10,
        unknown_one_in: 6,
    };
    let mut rng = SplitMix(11);
    let history = random_history(&mut rng, shape, false);
    assert_eq!(check(&history), Verdict::Linearizable);
    // A violation at the very end makes the search exhaust every order of that key first.
    let mut history = random_history(&mut rng, shape, false);
    let end = history
        .records()
        .iter()
        .map(|record| record.invoked_at)
        .max()
        .unwrap_or(0)
        + 100;
    let ghost = history.invoke(ClientId(99), Op::get("k0"), end);
    history.complete(ghost, Response::Value(Some("ghost".into())), end + 1);
    assert!(matches!(check(&history), Verdict::NotLinearizable { key, .. } if key == "k0"));
}

struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

#[derive(Clone, Copy)]
struct Shape {
    ops: u64,
    keys: u64,
    clients: u64,
    /// About one in this many outcomes is hidden (unknown).
    unknown_one_in: u64,
}

/// Clients issue operations one after another, each taking effect at a random instant inside
/// its interval against a sequential model, so the true responses are linearizable. Some
/// outcomes are then hidden (unknown) and, if `corrupt`, one response is falsified.
fn random_history(rng: &mut SplitMix, shape: Shape, corrupt: bool) -> History {
    let values = [None, Some("a"), Some("b")];
    let mut free = vec![0; shape.clients as usize];
    let mut ops: Vec<(u64, u64, u64, ClientId, Op)> = (0..shape.ops)
        .map(|_| {
            let client = rng.below(shape.clients);
            let from = free[client as usize] + rng.below(3);
            let to = from + rng.below(10);
            free[client as usize] = to + 1;
            let key = format!("k{}", rng.below(shape.keys));
            let value = values[1 + rng.below(2) as usize].unwrap_or_default();
            let op = match rng.below(4) {
                0 => Op::put(key, value),
                1 => Op::get(key),
                2 => Op::cas(key, values[rng.below(3) as usize], value),
                _ => Op::delete(key),
            };
            (
                from + rng.below(to - from + 1),
                from,
                to,
                ClientId(client),
                op,
            )
        })
        .collect();
    ops.sort_by_key(|&(point, ..)| point);
    let mut state: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut history = History::new();
    let corrupted = if corrupt {
        rng.below(shape.ops)
    } else {
        shape.ops
    };
    for (i, (_, from, to, client, op)) in ops.into_iter().enumerate() {
        let mut response = apply(&op, state.entry(op.key().to_owned()).or_default());
        if i as u64 == corrupted {
            response = falsify(response);
        }
        let id = history.invoke(client, op, from);
        match rng.below(shape.unknown_one_in) {
            0 => history.fail_unknown(id),
            _ => history.complete(id, response, to),
        }
    }
    history
}

fn falsify(response: Response) -> Response {
    match response {
        Response::Value(None) => Response::Value(Some("a".into())),
        Response::Value(Some(_)) => Response::Value(None),
        Response::Cas(swapped) => Response::Cas(!swapped),
        Response::Ok => Response::Ok,
    }
}

/// The sequential specification, on plain strings.
fn apply(op: &Op, state: &mut Option<String>) -> Response {
    match op {
        Op::Put { value, .. } => {
            *state = Some(value.clone());
            Response::Ok
        }
        Op::Get { .. } => Response::Value(state.clone()),
        Op::Cas { expected, new, .. } => {
            let swaps = state == expected;
            if swaps {
                *state = Some(new.clone());
            }
            Response::Cas(swaps)
        }
        Op::Delete { .. } => {
            *state = None;
            Response::Ok
        }
    }
}

/// Tries every order that respects real time; operations with an unknown outcome may be left
/// out (taking effect after everything else, or never).
fn brute_force(history: &History) -> bool {
    fn search(records: &[&Record], left: &mut Vec<usize>, state: &Option<String>) -> bool {
        let completed = |i: &usize| matches!(records[*i].outcome, Outcome::Completed { .. });
        if !left.iter().any(completed) {
            return true;
        }
        for pos in 0..left.len() {
            let candidate = records[left[pos]];
            let must_wait = left.iter().any(|&j| match records[j].outcome {
                Outcome::Completed { at, .. } => at < candidate.invoked_at,
                _ => false,
            });
            if must_wait {
                continue;
            }
            let mut next = state.clone();
            let actual = apply(&candidate.op, &mut next);
            if let Outcome::Completed { response, .. } = &candidate.outcome
                && *response != actual
            {
                continue;
            }
            let chosen = left.remove(pos);
            let found = search(records, left, &next);
            left.insert(pos, chosen);
            if found {
                return true;
            }
        }
        false
    }
    let records: Vec<&Record> = history.records().iter().collect();
    search(&records, &mut (0..records.len()).collect(), &None)
}
