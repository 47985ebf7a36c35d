//! Orders and trades as scripts get them: read-only records that read like maps (`o.price`,
//! `o["price"]`, `in`, `keys`, `to_json`, printing, `table`, `filter`/`retain`/`map`), pass to
//! `cancel_orders`, refuse changes with a pointer to `to_map`, and carry exactly the exchange's
//! values. Run by the real binary against a simulator, the exchange checked afterwards.

#[path = "common/mod.rs"]
mod support;

use support::*;

#[test]
fn orders_read_like_maps_and_carry_the_exchanges_values() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "read.rhai",
        &format!(
            r#"let orders = open_orders();
let o = orders.filter(|x| x.id == "{OLD_A}")[0];
#{{
    kind: type_of(o),
    price: o.price,
    indexed: o["price"],
    has_price: "price" in o,
    has_note: "note" in o,
    keys: o.keys(),
    json: parse_json(to_json(o)),
    text: `${{o}}`,
    ids: orders.map(|x| x.id),
    buys: orders.filter(|x| x.side == "BUY").len(),
    whole: o,
    trades: trades().len(),
    trade_kind: type_of(trades()[0]),
    makers: trades()[0].maker_orders.len(),
    lean: type_of(open_orders(#{{ fields: ["price"] }})[0]),
}}
"#
        ),
    );
    let value = exchange.run_json(&script);
    let key = exchange.sim().credentials().api_key.clone();
    let sim_order = exchange
        .sim()
        .orders_of(&key)
        .into_iter()
        .find(|o| o.id == OLD_A)
        .expect("the fixture order");
    assert_eq!(value["kind"], "Order");
    assert_eq!(value["price"], 0.45);
    assert_eq!(value["indexed"], 0.45);
    assert_eq!(value["has_price"], true);
    assert_eq!(value["has_note"], false);
    assert_eq!(value["keys"].as_array().map(Vec::len), Some(15));
    assert_eq!(
        value["json"], value["whole"],
        "to_json is the final value's JSON"
    );
    assert_eq!(value["json"]["id"], OLD_A);
    assert_eq!(value["json"]["asset_id"], sim_order.asset_id);
    assert_eq!(value["json"]["created_at"], sim_order.created_at);
    assert_eq!(value["json"]["side"], "BUY");
    assert!(
        value["text"]
            .as_str()
            .is_some_and(|t| t.contains(OLD_A) && t.contains("\"price\": 0.45"))
    );
    let mut ids: Vec<String> = value["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    ids.sort();
    assert_eq!(ids, sorted(OPEN));
    assert!(value["buys"].as_u64() > Some(0));
    assert_eq!(value["trade_kind"], "Trade");
    assert!(value["trades"].as_u64() > Some(0));
    assert_eq!(value["lean"], "map", "`fields:` still gives maps");
}

#[test]
fn orders_pass_to_cancel_orders_and_retain_keeps_them_in_place() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let script = exchange.script(
        "cancel.rhai",
        &format!(
            r#"let orders = open_orders();
orders.retain(|o| o.id == "{OLD_A}" || o.id == "{OLD_B}");
cancel_orders(orders)
"#
        ),
    );
    let out = exchange
        .clobscript()
        .args(["run", "--json"])
        .arg(&script)
        .run();
    out.status(0);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A, OLD_B]);
    assert_eq!(ids(&out.json()["canceled"]), sorted(&[OLD_A, OLD_B]));
}

#[test]
fn changing_an_order_is_refused_and_to_map_gives_a_map_that_can_change() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "change.rhai",
        r#"let o = open_orders()[0];
let m = to_map(o);
m.note = "kept";
m.price = 0.99;
let same = o.associate_trades.len();
let refused = [];
try { o.note = 1; } catch (e) { refused.push(e); }
try { o.price = 0.99; } catch (e) { refused.push(e); }
try { o["side"] = "neither"; } catch (e) { refused.push(e); }
try { o.associate_trades.push("x"); } catch (e) { refused.push(e); }
#{ kind: type_of(m), note: m.note, price: m.price, refused: refused, original: o.price != 0.99 }
"#,
    );
    let value = exchange.run_json(&script);
    assert_eq!(value["kind"], "map");
    assert_eq!(value["note"], "kept");
    assert_eq!(value["price"], 0.99);
    assert_eq!(value["original"], true);
    let refused = value["refused"].as_array().expect("errors");
    assert_eq!(refused.len(), 4, "{value}");
    for message in refused {
        assert!(
            message
                .as_str()
                .is_some_and(|m| m.contains("cannot be changed") && m.contains("to_map")),
            "{message}"
        );
    }
}

#[test]
fn an_unknown_field_is_an_error_naming_the_closest_field() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script("typo.rhai", "open_orders()[0].pricee\n");
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(1);
    out.stderr_has("`pricee` is not an order field");
    out.stderr_has("did you mean `price`?");
}

#[test]
fn tables_and_printing_show_orders_like_maps() {
    let exchange = Exchange::fixture(&Book::fixture());
    let script = exchange.script(
        "show.rhai",
        &format!(
            r#"let orders = open_orders();
table(orders, ["id", "price"]);
table(orders.filter(|o| o.id == "{OLD_A}")[0]);
print(order("{OLD_A}"));
"#
        ),
    );
    let out = exchange.clobscript().arg("run").arg(&script).run();
    out.status(0);
    out.stdout_has("| id ");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains(OLD_A) && l.contains("0.45")),
        "{}",
        out.stdout
    );
    out.stdout_has("| field ");
    out.stdout_has("| created_at ");
    out.stdout_has(&format!("Order #{{\"id\": \"{OLD_A}\""));
}

/// `retain` over a listing of several pages: for each predicate (by field, by index, through
/// `this`, dropping all) the kept and the removed orders are exactly the expected ones, in
/// listing order; an error stops it with the orders before it sorted as the standard library
/// leaves them; and the kept orders are the ones the exchange then cancels.
#[test]
fn retain_over_a_listing_keeps_and_removes_exactly_the_expected_orders() {
    let exchange = Exchange::generated(1600);
    let open = exchange.live_orders();
    assert!(open.len() > 1000, "more than two pages: {}", open.len());
    let script = exchange.script(
        "retain.rhai",
        r#"let orders = open_orders();
let ids = |list| list.map(|o| o.id);
let by_index = orders;
let gone_by_index = by_index.retain(|o, i| i % 7 == 3);
let by_price = orders;
let gone_by_price = by_price.retain(|o| o.price >= 0.5);
let buys = orders;
buys.retain(|| this.side == "BUY");
let none = orders;
let gone_all = none.retain(|o| false);
let failing = orders;
let error = "";
try {
    failing.retain(|o, i| if i == 10 { throw "stopped at 10" } else { i % 2 == 0 });
} catch (e) {
    error = `${e}`;
}
let result = #{
    ids: ids.call(orders),
    by_index: ids.call(by_index),
    gone_by_index: ids.call(gone_by_index),
    by_price: ids.call(by_price),
    gone_by_price: ids.call(gone_by_price),
    buys: ids.call(buys),
    none: none.len(),
    gone_all: ids.call(gone_all),
    failing: ids.call(failing),
    error: error,
};
result.canceled = cancel_orders(by_index).canceled;
result
"#,
    );
    let before = exchange.statuses();
    let value = exchange.run_json(&script);
    let list = |name: &str| -> Vec<String> {
        value[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {value}"))
            .iter()
            .map(|id| id.as_str().expect("an id").to_owned())
            .collect()
    };
    let listed = list("ids");
    let mut sorted_listed = listed.clone();
    sorted_listed.sort();
    let mut sorted_open: Vec<String> = open.iter().map(|o| o.id.clone()).collect();
    sorted_open.sort();
    assert_eq!(
        sorted_listed, sorted_open,
        "the listing is every open order"
    );

    // Kept and removed, each in listing order, by a rule on the listing's order or its values.
    let split = |keep: &dyn Fn(usize, &str) -> bool| {
        let (kept, gone): (Vec<_>, Vec<_>) = listed
            .iter()
            .enumerate()
            .partition(|(index, id)| keep(*index, id));
        let ids = |pairs: Vec<(usize, &String)>| -> Vec<String> {
            pairs.into_iter().map(|(_, id)| id.clone()).collect()
        };
        (ids(kept), ids(gone))
    };
    let of = |id: &str| open.iter().find(|o| o.id == id).expect("an open order");
    let (kept, gone) = split(&|index, _| index % 7 == 3);
    assert_eq!(list("by_index"), kept);
    assert_eq!(list("gone_by_index"), gone);
    let (kept, gone) = split(&|_, id| of(id).price.parse::<f64>().is_ok_and(|p| p >= 0.5));
    assert!(!kept.is_empty() && !gone.is_empty());
    assert_eq!(list("by_price"), kept);
    assert_eq!(list("gone_by_price"), gone);
    let (kept, _) = split(&|_, id| of(id).side.eq_ignore_ascii_case("BUY"));
    assert_eq!(list("buys"), kept);
    assert_eq!(value["none"], 0);
    assert_eq!(list("gone_all"), listed);
    let (kept, _) = split(&|index, _| index >= 10 || index % 2 == 0);
    assert_eq!(list("failing"), kept);
    assert!(
        value["error"]
            .as_str()
            .is_some_and(|e| e.contains("stopped at 10")),
        "{value}"
    );

    let canceled: Vec<String> = list("by_index");
    let mut reported = list("canceled");
    reported.sort();
    let mut expected = canceled.clone();
    expected.sort();
    assert_eq!(reported, expected);
    let canceled: Vec<&str> = canceled.iter().map(String::as_str).collect();
    assert_only_canceled(&before, &exchange.statuses(), &canceled);
}

/// The comparisons `filter` and `retain` answer without calling the closure give exactly what
/// the closure gives when it is called: each predicate is run as written and again as a block
/// (which is always called), over a listing of several pages, and the first is also checked
/// against the exchange's own orders.
#[test]
fn comparison_predicates_select_what_the_called_closure_selects() {
    let exchange = Exchange::generated(1200);
    let open = exchange.live_orders();
    let cutoff = open[open.len() / 2].created_at;
    let script = exchange.script(
        "compare.rhai",
        &format!(
            r#"let orders = open_orders();
let cutoff = {cutoff};
let half = cutoff + 0.5;
let market = orders[0].market;
let buy = "BUY";
let pairs = [
    [|o| o.created_at < cutoff, |o| {{ let v = o.created_at; v < cutoff }}],
    [|o| o.created_at <= half, |o| {{ let v = o.created_at; v <= half }}],
    [|o| o.price >= 0.5 && o.side == buy, |o| {{ let p = o.price; p >= 0.5 && o.side == buy }}],
    [|o| o.market == market || o.price < 0.1, |o| {{ let m = o.market; m == market || o.price < 0.1 }}],
    [|o| o.size_matched < o.original_size, |o| {{ let s = o.size_matched; s < o.original_size }}],
    [|o| o.status != "LIVE", |o| {{ let s = o.status; s != "LIVE" }}],
    [|o| o.expiration == 0, |o| {{ let e = o.expiration; e == 0 }}],
];
let result = #{{ older: orders.filter(|o| o.created_at < cutoff).map(|o| o.id), pairs: [] }};
for pair in pairs {{
    let fast = orders.filter(pair[0]).map(|o| o.id);
    let called = orders.filter(pair[1]).map(|o| o.id);
    let kept = orders;
    let gone = kept.retain(pair[0]);
    result.pairs.push([fast, called, kept.map(|o| o.id), gone.len()]);
}}
let trades = trades();
result.trades = [
    trades.filter(|t| t.size > 10 && t.side == "BUY").len(),
    trades.filter(|t| {{ let s = t.size; s > 10 && t.side == "BUY" }}).len(),
];
result
"#
        ),
    );
    let value = exchange.run_json(&script);
    let ids = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap_or_else(|| panic!("a list: {list}"))
            .iter()
            .map(|id| id.as_str().expect("an id").to_owned())
            .collect()
    };
    let mut older = ids(&value["older"]);
    older.sort();
    let mut expected: Vec<String> = open
        .iter()
        .filter(|o| o.created_at < cutoff)
        .map(|o| o.id.clone())
        .collect();
    expected.sort();
    assert!(!expected.is_empty() && expected.len() < open.len());
    assert_eq!(
        older, expected,
        "the exchange's orders older than the cutoff"
    );
    for (no, pair) in value["pairs"].as_array().expect("pairs").iter().enumerate() {
        let (fast, called, kept) = (ids(&pair[0]), ids(&pair[1]), ids(&pair[2]));
        assert_eq!(fast, called, "predicate {no}");
        assert_eq!(kept, called, "predicate {no} through retain");
        assert_eq!(
            pair[3].as_u64(),
            Some((open.len() - called.len()) as u64),
            "predicate {no}: the removed ones"
        );
    }
    assert_eq!(value["trades"][0], value["trades"][1], "{value}");
}
