//! Running sums and means of histograms with Kahan compensation, as
//! upstream's `sum`/`avg` aggregations and `sum_over_time`/`avg_over_time`
//! compute them: the mean is taken directly from the compensated sum
//! until that overflows, then incrementally.

use super::fhist::{AddNotes, FHist, IncompatibleSchema};

/// A running sum (or mean) of histograms.
pub(crate) struct HSum {
    sum: FHist,
    c: FHist,
    count: f64,
    avg: bool,
    /// Set once the direct sum overflowed (means only).
    mean: Option<FHist>,
}

impl HSum {
    /// Starts with `h`.
    pub(crate) fn new(h: &FHist, avg: bool) -> HSum {
        HSum {
            c: h.kahan_zero(),
            sum: h.clone(),
            count: 1.0,
            avg,
            mean: None,
        }
    }

    /// Adds `h`.
    pub(crate) fn add(&mut self, h: &FHist) -> Result<AddNotes, IncompatibleSchema> {
        self.count += 1.0;
        let n = self.count;
        if !self.avg {
            return self.sum.kahan_add(h, &mut self.c);
        }
        if self.mean.is_none() {
            let (mut s, mut c) = (self.sum.clone(), self.c.clone());
            let notes = s.kahan_add(h, &mut c)?;
            if !s.has_overflow() {
                self.sum = s;
                self.c = c;
                return Ok(notes);
            }
            let mut mean = self.sum.clone();
            mean.div(n - 1.0);
            self.c.div(n - 1.0);
            self.mean = Some(mean);
        }
        let q = (n - 1.0) / n;
        self.c.mul(q);
        let mut add = h.clone();
        add.div(n);
        let mean = self.mean.as_mut().expect("set above");
        mean.mul(q);
        mean.kahan_add(&add, &mut self.c)
    }

    /// The sum, or the mean.
    pub(crate) fn finish(self) -> FHist {
        let hint = self.sum.hint;
        let mut out = match self.mean {
            Some(mut mean) => {
                mean.kahan_finish(&self.c);
                mean
            }
            None if self.avg => {
                let (mut s, mut c) = (self.sum, self.c);
                s.div(self.count);
                c.div(self.count);
                s.kahan_finish(&c);
                s
            }
            None => {
                let mut s = self.sum;
                s.kahan_finish(&self.c);
                s
            }
        };
        out.hint = hint;
        out
    }
}
