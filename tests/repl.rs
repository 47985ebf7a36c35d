//! `clobscript repl`, driven as a user would: the real binary against a simulator started here
//! (`--host` and `POLY_*` credentials), through piped stdin and through a pseudo-terminal. The
//! exchange state is checked afterwards. `HOME` and `XDG_STATE_HOME` point into a temp dir, so
//! the history never touches the real home.

#[path = "common/mod.rs"]
mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use clobscript::script::Host;
use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;
use expectrl::{ControlCode, Expect as _, Session};
use support::*;

/// Runs `repl` with `input` on stdin (not a terminal) and collects what it printed.
fn piped(exchange: &Exchange, args: &[&str], input: &str) -> Output {
    exchange
        .clobscript()
        .arg("repl")
        .args(args)
        .run_with_input(input)
}

/// The printed lines, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}

#[test]
fn variables_and_fns_persist_across_piped_lines() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(
        &exchange,
        &[],
        "let n = open_orders().len();\n\
         fn twice(x) { x * 2 }\n\
         twice(n)\n\
         let n = n + 1;\n\
         twice(n)\n\
         :vars\n",
    );
    out.status(0);
    let printed = lines(&out.stdout);
    assert_eq!(printed[..2], ["20", "22"], "{}", out.stdout);
    // `n` is listed once, with its latest value.
    let rows: Vec<&&str> = printed.iter().filter(|l| l.starts_with("| n ")).collect();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert!(
        rows[0].contains("| int ") && rows[0].contains("| 11 "),
        "{}",
        out.stdout
    );
    out.stdout_has("fn twice(x)");
    assert_eq!(out.stderr, "");
}

#[test]
fn an_unfinished_statement_continues_on_the_next_line() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(
        &exchange,
        &[],
        "fn count_in(market) {\n\
         \x20 open_orders(#{\n\
         \x20   market: market,\n\
         \x20 }).len()\n\
         }\n\
         let label = `orders in B:\n${count_in(\"MARKET_B\")}`;\n\
         label\n\
         // a comment with a { does not open anything\n\
         [\n  1,\n  2\n].len()\n"
            .replace("MARKET_B", MARKET_B)
            .as_str(),
    );
    out.status(0);
    // OLD_B, FRESH_B, GTD_SOON and GTD_LATER are the open orders in market B.
    assert_eq!(
        lines(&out.stdout),
        ["orders in B:", "4", "2"],
        "{}",
        out.stdout
    );
}

#[test]
fn input_still_unfinished_at_the_end_is_a_syntax_error() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(&exchange, &[], "let x = 5;\nfn broken(a) {\n  a + x\n");
    out.status(2);
    out.stderr_has("syntax error");
}

#[test]
fn a_list_of_orders_prints_as_a_table_with_whole_ids() {
    let exchange = Exchange::generated(40);
    let primary = exchange.sim().credentials().api_key.clone();
    let open = exchange.sim().open_order_ids_of(&primary);
    assert!(!open.is_empty());
    let out = piped(&exchange, &[], "open_orders()\n");
    out.status(0);
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("| id ") && header.contains("| price ") && header.contains("| status "),
        "{header}"
    );
    for id in &open {
        assert!(id.len() >= 66, "generated ids are full hashes: {id}");
        assert!(
            out.stdout.contains(&format!("| {id} |")),
            "{id} missing from the table"
        );
    }
    // One row per order, after the header and the rule.
    assert_eq!(out.stdout.lines().count(), open.len() + 2);
}

#[test]
fn a_map_prints_as_fields_and_values_and_unit_prints_nothing() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(
        &exchange,
        &[],
        &format!("order(\"{OLD_A}\")\nlet x = 1;\n()\n"),
    );
    out.status(0);
    let printed = lines(&out.stdout);
    assert!(
        printed[0].starts_with("| field ") && printed[0].contains("| value "),
        "{}",
        out.stdout
    );
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("| id ") && l.contains(OLD_A)),
        "{}",
        out.stdout
    );
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("| asset_id ") && l.contains(TOKEN_A_YES)),
        "{}",
        out.stdout
    );
    // 15 fields, a header and a rule; nothing for `let` or `()`.
    assert_eq!(printed.len(), 17, "{}", out.stdout);
}

#[test]
fn an_error_is_shown_with_a_caret_and_the_session_goes_on() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = piped(
        &exchange,
        &[],
        &format!("let id = \"{OLD_A}\";\ncancle(id)\ncancel(id).canceled\n"),
    );
    assert!(
        out.stderr.contains("unknown function `cancle`")
            && out.stderr.contains("2 | cancle(id)")
            && out.stderr.contains("  | ^^^^^^")
            && out.stderr.contains("did you mean `cancel`?"),
        "{}",
        out.stderr
    );
    assert_eq!(lines(&out.stdout), [format!("[\"{OLD_A}\"]")]);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A]);
    // Piped, a session with a failed input ends with that input's code.
    out.status(2);
}

#[test]
fn piped_exit_code_is_that_of_the_last_failure() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(&exchange, &[], "1 +\n;\nthrow \"boom\"\n40 + 2\n");
    out.status(1);
    assert_eq!(lines(&out.stdout), ["42"]);
    out.stderr_has("boom");
    let out = piped(&exchange, &[], "throw \"boom\"\nlet x = ;\n");
    out.status(2);
    let out = piped(&exchange, &[], ":nonsense\n");
    out.status(2);
    out.stderr_has("unknown command `:nonsense`");
}

#[test]
fn an_error_inside_a_fn_from_an_earlier_line_quotes_that_line() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(
        &exchange,
        &[],
        "fn ratio(x) {\n  x / 0\n}\nlet y = 3;\nratio(y)\n",
    );
    out.status(1);
    assert!(
        out.stderr.contains("2 |   x / 0")
            && out.stderr.contains("in function `ratio`, called at 5:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_on_then_cancel_leaves_the_exchange_untouched() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = piped(
        &exchange,
        &[],
        &format!(
            ":dry-run on\ncancel(\"{OLD_A}\").would_cancel\ncancel_all().would_cancel.len()\n\
             :dry-run off\ncancel(\"{OLD_B}\").canceled\n"
        ),
    );
    out.status(0);
    assert_eq!(
        lines(&out.stdout),
        [
            "dry run is on: cancels are recorded and reported, none is sent",
            &format!("[\"{OLD_A}\"]"),
            &OPEN.len().to_string(),
            "dry run is off: cancels are sent to the exchange",
            &format!("[\"{OLD_B}\"]"),
        ]
    );
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_B]);
}

#[test]
fn dry_run_flag_starts_the_session_in_dry_run() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = piped(
        &exchange,
        &["--dry-run"],
        "cancel_all().would_cancel.len()\n:dry-run\n",
    );
    out.status(0);
    assert_eq!(
        out.stdout.lines().next(),
        Some(OPEN.len().to_string().as_str())
    );
    out.stdout_has("dry run is on");
    assert_eq!(exchange.statuses(), before);
}

#[test]
fn max_cancels_counts_over_the_whole_session() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let out = piped(
        &exchange,
        &["--max-cancels", "1"],
        &format!("cancel(\"{OLD_A}\").canceled.len()\ncancel(\"{OLD_B}\")\n"),
    );
    out.status(4);
    assert_eq!(lines(&out.stdout), ["1"]);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A]);
}

#[test]
fn help_lists_every_function_by_area_and_help_name_shows_its_doc() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(&exchange, &[], ":help\n:help cancel\n:help no_such_thing\n");
    out.status(2);
    let host = Host::offline();
    for area in host.api_areas() {
        assert!(out.stdout.contains(&area.title), "{} missing", area.title);
    }
    for f in host.functions() {
        assert!(
            out.stdout.contains(&format!("  {}\n", f.signature())),
            "{} missing",
            f.signature()
        );
    }
    out.stdout_has(":dry-run on|off");
    let cancel = host
        .functions()
        .find(|f| f.name == "cancel")
        .expect("cancel is documented");
    let detail = out
        .stdout
        .split(":quit")
        .nth(1)
        .expect("the details follow the overview");
    assert!(
        detail.contains("cancel(id: string) -> map") && detail.contains(&cancel.summary()),
        "{detail}"
    );
    assert!(
        out.stderr
            .contains("no clobscript function is called `no_such_thing`"),
        "{}",
        out.stderr
    );
}

#[test]
fn load_runs_a_file_in_the_session() {
    let exchange = Exchange::fixture(&Book::fixture());
    let before = exchange.statuses();
    let file = exchange.script(
        "tidy.rhai",
        "fn older_than(minutes) {\n  open_orders().filter(|o| o.created_at < now() - minutes * 60)\n}\nlet loaded = true;\n",
    );
    let out = piped(
        &exchange,
        &[],
        &format!(
            ":load {}\nloaded\ncancel_orders(older_than(60).map(|o| o.id)).canceled.len()\n:load {}\n",
            file.display(),
            exchange.work_dir().join("missing.rhai").display()
        ),
    );
    assert_eq!(lines(&out.stdout), ["true", "2"], "{}", out.stderr);
    out.stderr_has("cannot read");
    out.status(2);
    assert_only_canceled(&before, &exchange.statuses(), &[OLD_A, OLD_B]);
}

// ---- through a pseudo-terminal ----

/// Generous: the machine running the tests may be slow; nothing here measures time.
const PTY_TIMEOUT: Duration = Duration::from_secs(90);

fn pty(exchange: &Exchange, args: &[&str]) -> OsSession {
    let mut clob = exchange.clobscript();
    clob.arg("repl").args(args).env("TERM", "xterm");
    let command: Command = clob.into_command();
    let mut session = Session::spawn(command).expect("clobscript starts in a pty");
    session.set_expect_timeout(Some(PTY_TIMEOUT));
    session
}

/// Waits for the text, failing the test with what was expected if it never comes.
fn wait_for(session: &mut OsSession, text: &str) {
    if let Err(error) = session.expect(text) {
        panic!("expected {text:?} from the REPL: {error}");
    }
}

fn ends_with_success(session: &OsSession) {
    let status = session.get_process().wait().expect("the REPL ends");
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "the REPL ended with {status:?}"
    );
}

#[test]
fn terminal_session_keeps_state_completes_names_and_continues_lines() {
    let exchange = Exchange::fixture(&Book::fixture());
    let mut repl = pty(&exchange, &[]);
    wait_for(&mut repl, exchange.sim().url());
    wait_for(&mut repl, "dry run off");
    wait_for(&mut repl, "clob> ");

    // Each input ends in a value its echo does not contain, so the test waits for the result
    // before typing on (type-ahead is not what is tested here).
    repl.send("let base = 20 + 1; base * 100 + 3\r")
        .expect("send");
    wait_for(&mut repl, "2103");

    // Multi-line: the fn definition continues until its brace closes.
    repl.send("fn twice(x) {\r").expect("send");
    repl.send("x * 2\r").expect("send");
    repl.send("} 700 + 77\r").expect("send");
    wait_for(&mut repl, "777");

    // Tab completes a session fn and a variable...
    repl.send("twi\tbas\t) + 1000\r").expect("send");
    wait_for(&mut repl, "1042");
    // ...an API function...
    repl.send("open_ord\t).len() * 1000 + 7\r").expect("send");
    wait_for(&mut repl, "10007");
    // ...and a field after a `.`.
    repl.send(format!("let o = order(\"{OLD_A}\"); o.id.len() + 9000\r"))
        .expect("send");
    wait_for(&mut repl, "9006");
    repl.send("o.size_ma\t + 0.25\r").expect("send");
    wait_for(&mut repl, "40.25");

    // An error shows its caret, and the session goes on.
    repl.send("cancle(o.id)\r").expect("send");
    wait_for(&mut repl, "did you mean `cancel`?");
    repl.send(":help cancel\r").expect("send");
    wait_for(&mut repl, "cancel(id: string) -> map");

    // Dry run changes the prompt and sends nothing.
    let before = exchange.statuses();
    repl.send(":dry-run on\r").expect("send");
    wait_for(&mut repl, "dry run is on");
    wait_for(&mut repl, "clob (dry run)> ");
    repl.send("cancel(o.id).would_cancel.len() + 500\r")
        .expect("send");
    wait_for(&mut repl, "501");
    assert_eq!(exchange.statuses(), before);

    repl.send(ControlCode::EndOfTransmission).expect("Ctrl-D");
    ends_with_success(&repl);
    let history = std::fs::read_to_string(exchange.state_dir().join("clobscript/history"))
        .expect("history saved under XDG_STATE_HOME");
    assert!(
        history.contains("open_orders().len() * 1000 + 7") && history.contains(":dry-run on"),
        "{history}"
    );
}

#[test]
fn ctrl_c_stops_a_running_command_and_the_prompt_returns() {
    let exchange = Exchange::fixture(&Book::fixture());
    let mut repl = pty(&exchange, &[]);
    wait_for(&mut repl, "clob> ");

    // The markers are built at run time, so the echoed input cannot match them.
    repl.send("print(\"slee\" + \"ping\"); sleep(600)\r")
        .expect("send");
    wait_for(&mut repl, "sleeping");
    repl.send(ControlCode::EndOfText).expect("Ctrl-C");
    wait_for(&mut repl, "interrupted");
    wait_for(&mut repl, "clob> ");

    repl.send("let n = 0; print(\"spin\" + \"ning\"); loop { n += 1; }\r")
        .expect("send");
    wait_for(&mut repl, "spinning");
    repl.send(ControlCode::EndOfText).expect("Ctrl-C");
    wait_for(&mut repl, "interrupted");
    wait_for(&mut repl, "clob> ");

    // Ctrl-C at the prompt drops the line being typed.
    repl.send("cancel_all(").expect("send");
    repl.send(ControlCode::EndOfText).expect("Ctrl-C");
    wait_for(&mut repl, "clob> ");
    repl.send("if n > 0 { 1200 + 34 } else { 0 }\r")
        .expect("send");
    wait_for(&mut repl, "1234");
    assert_eq!(
        exchange.status(OLD_A),
        "LIVE",
        "the dropped line was not run"
    );

    repl.send(":quit\r").expect("send");
    ends_with_success(&repl);
}

#[test]
fn piped_ctrl_c_stops_the_running_line_and_ends_the_session_with_130() {
    use std::io::{BufRead as _, BufReader};
    let exchange = Exchange::fixture(&Book::fixture());
    let mut clob = exchange.clobscript();
    clob.arg("repl");
    let mut child = clob
        .into_command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clobscript starts");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(b"print(\"started\");\nsleep(600)\nprint(\"never\")\n")
        .expect("input written");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("reads stdout");
    assert_eq!(line.trim(), "started");
    send_signal(&child, "INT");
    let out = wait(child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("reads stdout");
    out.status(130);
    out.stderr_has("interrupted");
    assert_eq!(rest, "", "nothing after the interrupted line ran");
}

#[test]
fn vars_calls_a_listing_by_what_it_holds() {
    let exchange = Exchange::fixture(&Book::fixture());
    let out = piped(
        &exchange,
        &[],
        "let orders = open_orders();\n\
         let fills = trades();\n\
         let lean = open_orders(#{ fields: [\"id\"] });\n\
         :vars\n",
    );
    out.status(0);
    let row = |name: &str| {
        lines(&out.stdout)
            .into_iter()
            .find(|l| l.starts_with(&format!("| {name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{}", out.stdout))
            .to_owned()
    };
    assert!(
        row("orders").contains("array of 10 orders"),
        "{}",
        out.stdout
    );
    assert!(row("fills").contains(" trades"), "{}", out.stdout);
    assert!(row("lean").contains("array of 10 maps"), "{}", out.stdout);
}
