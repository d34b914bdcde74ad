//! Element-wise binary operations where one side or both are native
//! histograms (the histogram cases of `vectorElemBinop` upstream).

use super::binary::elem;
use super::native::{self, Note};
use crate::promql::functions::fhist::FHist;
use crate::promql::plan::BinOp;

/// One side of an element-wise operation: a float or a histogram.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    F(f64),
    H(&'a FHist),
}

/// What an element-wise operation gives: a value and whether a
/// comparison keeps it, or nothing (with an annotation).
pub(crate) enum Elem {
    F(f64, bool),
    H(Box<FHist>, bool),
    Drop,
}

fn op_name(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Pow => "^",
        BinOp::Atan2 => "atan2",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Gt => ">",
        BinOp::Lt => "<",
        BinOp::Ge => ">=",
        BinOp::Le => "<=",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Unless => "unless",
        BinOp::TrimUpper => "</",
        BinOp::TrimLower => ">/",
    }
}

/// `vectorElemBinop` with histograms: `*` by a float, `/` by a float,
/// `+`, `-`, `==` and `!=` between histograms; other combinations give
/// nothing and an info (`NewIncompatibleTypesInBinOpInfo`).
pub(crate) fn elem_mixed(op: BinOp, l: Operand<'_>, r: Operand<'_>, notes: &mut Vec<Note>) -> Elem {
    let kind = |o: &Operand<'_>| match o {
        Operand::F(_) => "float",
        Operand::H(_) => "histogram",
    };
    let incompatible = |notes: &mut Vec<Note>| {
        let name = op_name(op);
        notes.push(Note::Info(format!(
            "PromQL info: incompatible sample types encountered for binary operator {name:?}: {} {name} {}",
            kind(&l),
            kind(&r)
        )));
        Elem::Drop
    };
    match (l, r) {
        (Operand::F(a), Operand::F(b)) => {
            let (v, keep) = elem(op, a, b);
            Elem::F(v, keep)
        }
        (Operand::F(k), Operand::H(h)) | (Operand::H(h), Operand::F(k)) if op == BinOp::Mul => {
            let mut h = Box::new(h.clone());
            h.mul(k);
            Elem::H(h, true)
        }
        (Operand::H(h), Operand::F(k)) if matches!(op, BinOp::TrimUpper | BinOp::TrimLower) => {
            Elem::H(Box::new(h.trim(k, op == BinOp::TrimUpper)), true)
        }
        (Operand::H(h), Operand::F(k)) if op == BinOp::Div => {
            let mut h = Box::new(h.clone());
            h.div(k);
            Elem::H(h, true)
        }
        (Operand::H(a), Operand::H(b)) => match op {
            BinOp::Add | BinOp::Sub => {
                let mut h = Box::new(a.clone());
                let res = if op == BinOp::Add { h.add(b) } else { h.sub(b) };
                let what = if op == BinOp::Add {
                    "addition"
                } else {
                    "subtraction"
                };
                match res {
                    Err(_) => {
                        notes.push(Note::Warn(format!(
                            "PromQL warning: incompatible bucket layout encountered for binary operator {}",
                            op_name(op)
                        )));
                        return Elem::Drop;
                    }
                    Ok(n) => {
                        if n.reset_collision {
                            notes.push(Note::Warn(native::msg::collision(what)));
                        }
                        if n.bounds_reconciled {
                            notes.push(Note::Info(native::msg::reconciled(what)));
                        }
                    }
                }
                if op == BinOp::Sub {
                    h.hint = crate::model::CounterResetHint::Gauge;
                }
                Elem::H(h, true)
            }
            BinOp::Eq | BinOp::Ne => {
                let same = a.bit_eq(b);
                Elem::H(Box::new(a.clone()), same == (op == BinOp::Eq))
            }
            _ => incompatible(notes),
        },
        _ => incompatible(notes),
    }
}
