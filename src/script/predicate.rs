//! Predicates that `filter` and `retain` can test without calling into the interpreter.
//!
//! A playbook's predicate is nearly always one comparison of a field with a value:
//! `|o| o.created_at < cutoff`, `|o| o.side == "BUY"`, `|o| o.price >= 0.5 && o.market == m`.
//! Calling a closure costs the interpreter well over half a microsecond, which is most of the
//! time a script spends on a listing of 100,000 orders. A closure whose body is such an
//! expression — comparisons (`<`, `<=`, `>`, `>=`, `==`, `!=`) of the element, one of its
//! fields, a literal or a captured variable, joined by `&&` and `||` — is read once into a
//! [`Compiled`] predicate, which answers for the elements whose values it compares the way the
//! interpreter does: integers, floats (and the two mixed), strings, booleans. For any other
//! element (a field holding an unexpected type, an unknown field, an element that is not an
//! order, trade or map) it gives no answer and the closure is called as usual, so results and
//! errors are the interpreter's in every case. Such a predicate has no side effects, so
//! testing it natively changes nothing but the time; it is not counted against the
//! operations limit (`max_operations`), being bounded by the array's length.

use std::cmp::Ordering;

use rhai::{
    AST, ASTFlags, ASTNode, Dynamic, Expr, FnCallExpr, FnPtr, ImmutableString, Map, Module,
    NativeCallContext, Stmt, Token,
};

use super::values::{OrderValue, TradeValue};

/// A predicate read from a closure's body; see the module documentation.
#[derive(Debug)]
pub(crate) struct Compiled {
    node: Node,
}

#[derive(Debug)]
enum Node {
    Compare(Op, Operand, Operand),
    /// `a && b && …`: false at the first false.
    All(Vec<Node>),
    /// `a || b || …`: true at the first true.
    Any(Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug)]
enum Operand {
    /// The element itself (`|x| x < 5`).
    Item,
    /// A field of the element (`o.price`).
    Field(Field),
    /// A literal, or a variable the closure captured (read once: the predicate cannot
    /// change it).
    Value(Dynamic),
}

#[derive(Debug)]
struct Field {
    name: ImmutableString,
    /// Its place in an order and in a trade, if either has it.
    order: Option<usize>,
    trade: Option<usize>,
}

/// The closure's parameters: the captured ones first, the element last.
struct Names<'a> {
    params: &'a [ImmutableString],
    captured: &'a [Dynamic],
}

impl Names<'_> {
    fn item(&self) -> &str {
        self.params.last().map_or("", ImmutableString::as_str)
    }

    fn variable(&self, name: &str) -> Option<Operand> {
        if name == self.item() {
            return Some(Operand::Item);
        }
        let at = self.params.iter().position(|param| param == name)?;
        let value = self.captured.get(at)?.flatten_clone();
        Some(Operand::Value(value))
    }
}

impl Compiled {
    /// The predicate `f` stands for, when its body is simple enough (see the module
    /// documentation); `None` otherwise.
    pub(crate) fn of(ctx: &NativeCallContext, f: &FnPtr) -> Option<Compiled> {
        let captured = f.curry();
        let arity = captured.len() + 1;
        let fn_def = ctx
            .iter_namespaces()
            .find_map(|namespace| namespace.get_script_fn(f.fn_name(), arity))?;
        if fn_def.this_type.is_some() || fn_def.params.len() != arity {
            return None;
        }
        let names = Names {
            params: &fn_def.params,
            captured,
        };
        // The body's statements, through a walk of an AST holding only this function.
        let mut module = Module::new();
        module.set_script_fn(fn_def.clone());
        let ast = AST::new([], module);
        let mut statements = 0;
        let mut node = None;
        ast.walk(&mut |path: &[ASTNode]| {
            if let [ASTNode::Stmt(stmt)] = path {
                statements += 1;
                node = statement(stmt, &names);
            }
            true
        });
        let node = node.filter(|_| statements == 1)?;
        Some(Compiled { node })
    }

    /// Whether `item` passes, when every value compared is of a type compared natively;
    /// `None` when the closure must be called to know.
    pub(crate) fn test(&self, item: &Dynamic) -> Option<bool> {
        self.node.test(item)
    }
}

fn statement(stmt: &Stmt, names: &Names) -> Option<Node> {
    match stmt {
        Stmt::FnCall(call, _) => comparison(call, names),
        Stmt::Expr(expr) => expression(expr, names),
        _ => None,
    }
}

fn expression(expr: &Expr, names: &Names) -> Option<Node> {
    match expr {
        Expr::FnCall(call, _) => comparison(call, names),
        Expr::And(items, _) => items
            .iter()
            .map(|item| expression(item, names))
            .collect::<Option<Vec<_>>>()
            .map(Node::All),
        Expr::Or(items, _) => items
            .iter()
            .map(|item| expression(item, names))
            .collect::<Option<Vec<_>>>()
            .map(Node::Any),
        _ => None,
    }
}

fn comparison(call: &FnCallExpr, names: &Names) -> Option<Node> {
    let op = match call.op_token.as_ref()? {
        Token::LessThan => Op::Lt,
        Token::LessThanEqualsTo => Op::Le,
        Token::GreaterThan => Op::Gt,
        Token::GreaterThanEqualsTo => Op::Ge,
        Token::EqualsTo => Op::Eq,
        Token::NotEqualsTo => Op::Ne,
        _ => return None,
    };
    if !call.namespace.is_empty() {
        return None;
    }
    let [lhs, rhs] = call.args.as_slice() else {
        return None;
    };
    Some(Node::Compare(
        op,
        operand(lhs, names)?,
        operand(rhs, names)?,
    ))
}

fn operand(expr: &Expr, names: &Names) -> Option<Operand> {
    let value = |value: Dynamic| Some(Operand::Value(value));
    match expr {
        Expr::IntegerConstant(number, _) => value(Dynamic::from_int(*number)),
        Expr::FloatConstant(number, _) => value(Dynamic::from_float(**number)),
        Expr::StringConstant(text, _) => value(text.clone().into()),
        Expr::BoolConstant(flag, _) => value(Dynamic::from_bool(*flag)),
        Expr::Variable(variable, ..) if variable.2.is_empty() => names.variable(&variable.1),
        Expr::Dot(chain, flags, _) if !flags.intersects(ASTFlags::NEGATED) => {
            match (&chain.lhs, &chain.rhs) {
                (Expr::Variable(variable, ..), Expr::Property(property, _))
                    if variable.2.is_empty() && variable.1 == names.item() =>
                {
                    let name = property.2.clone();
                    Some(Operand::Field(Field {
                        order: OrderValue::field_index(&name),
                        trade: TradeValue::field_index(&name),
                        name,
                    }))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// An operand's value for one element: borrowed or made.
enum Got<'a> {
    Borrowed(&'a Dynamic),
    Made(Dynamic),
}

impl std::ops::Deref for Got<'_> {
    type Target = Dynamic;
    fn deref(&self) -> &Dynamic {
        match self {
            Got::Borrowed(value) => value,
            Got::Made(value) => value,
        }
    }
}

impl Node {
    fn test(&self, item: &Dynamic) -> Option<bool> {
        match self {
            Node::Compare(op, lhs, rhs) => {
                let (lhs, rhs) = (lhs.read(item)?, rhs.read(item)?);
                compare(*op, &lhs, &rhs)
            }
            Node::All(nodes) => {
                for node in nodes {
                    if !node.test(item)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            Node::Any(nodes) => {
                for node in nodes {
                    if node.test(item)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
        }
    }
}

impl Operand {
    fn read<'a>(&'a self, item: &'a Dynamic) -> Option<Got<'a>> {
        match self {
            Operand::Item => Some(Got::Borrowed(item)),
            Operand::Value(value) => Some(Got::Borrowed(value)),
            Operand::Field(field) => field.read(item).map(Got::Made),
        }
    }
}

impl Field {
    fn read(&self, item: &Dynamic) -> Option<Dynamic> {
        if let Some(order) = item.read_lock::<OrderValue>() {
            return Some(order.value(self.order?));
        }
        if let Some(trade) = item.read_lock::<TradeValue>() {
            return Some(trade.value(self.trade?));
        }
        // A map's missing key is the interpreter's to answer.
        item.read_lock::<Map>()?.get(self.name.as_str()).cloned()
    }
}

/// `a op b` as the interpreter's built-in operators give it, for the types they share here;
/// `None` for any other pair.
fn compare(op: Op, a: &Dynamic, b: &Dynamic) -> Option<bool> {
    let order = if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
        x.cmp(&y)
    } else if let (Some(x), Some(y)) = (number(a), number(b)) {
        return Some(float_compare(op, x, y));
    } else if let (Some(x), Some(y)) = (
        a.read_lock::<ImmutableString>(),
        b.read_lock::<ImmutableString>(),
    ) {
        x.as_str().cmp(y.as_str())
    } else if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        x.cmp(&y)
    } else {
        return None;
    };
    Some(match op {
        Op::Lt => order == Ordering::Less,
        Op::Le => order != Ordering::Greater,
        Op::Gt => order == Ordering::Greater,
        Op::Ge => order != Ordering::Less,
        Op::Eq => order == Ordering::Equal,
        Op::Ne => order != Ordering::Equal,
    })
}

/// The interpreter's comparison of two floats (or a float and an integer): equal within a
/// relative epsilon, so that `0.1 + 0.2 == 0.3`.
fn float_compare(op: Op, x: f64, y: f64) -> bool {
    let max = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if max == 0.0 {
        return matches!(op, Op::Eq | Op::Ge | Op::Le);
    }
    let epsilon = f64::EPSILON;
    match op {
        Op::Eq => (x - y).abs() / max <= epsilon,
        Op::Ne => (x - y).abs() / max > epsilon,
        Op::Gt => (x - y) / max > epsilon,
        Op::Ge => (x - y) / max > -epsilon,
        Op::Lt => (y - x) / max > epsilon,
        Op::Le => (y - x) / max > -epsilon,
    }
}

/// An integer or a float, as a float (how the interpreter compares the two mixed).
fn number(value: &Dynamic) -> Option<f64> {
    match (value.as_float(), value.as_int()) {
        (Ok(x), _) => Some(x),
        #[allow(clippy::cast_precision_loss)]
        (_, Ok(x)) => Some(x as f64),
        _ => None,
    }
}
