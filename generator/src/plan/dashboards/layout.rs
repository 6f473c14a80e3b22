//! Panel placement on Grafana's 24-column grid: left to right, wrapping to a new line below
//! the tallest panel of the current one, a full-width row header wherever the row changes.
//! Placement never overlaps by construction; the tests check it anyway.

use contract::model::PanelType;

pub const GRID_COLUMNS: u8 = 24;

/// Where a panel sits: columns `x..x+w`, rows `y..y+h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GridPos {
    pub h: u32,
    pub w: u32,
    pub x: u32,
    pub y: u32,
}

impl GridPos {
    pub fn overlaps(&self, other: &GridPos) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }
}

/// Width and height a panel type gets unless the spec says otherwise.
pub fn default_size(kind: PanelType) -> (u8, u8) {
    match kind {
        PanelType::Stat | PanelType::Gauge => (6, 6),
        PanelType::Logs => (24, 10),
        PanelType::Text => (24, 4),
        PanelType::Timeseries | PanelType::Heatmap | PanelType::Table | PanelType::Bargauge => (12, 8),
    }
}

/// What gets placed: a row header or a panel of a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Row,
    Panel { w: u8, h: u8 },
}

/// Places slots in order.
pub fn place(slots: &[Slot]) -> Vec<GridPos> {
    let mut placed = Vec::with_capacity(slots.len());
    let mut x: u32 = 0;
    let mut line_top: u32 = 0;
    let mut line_bottom: u32 = 0;
    for slot in slots {
        match *slot {
            Slot::Row => {
                let y = line_bottom;
                placed.push(GridPos {
                    h: 1,
                    w: u32::from(GRID_COLUMNS),
                    x: 0,
                    y,
                });
                x = 0;
                line_top = y + 1;
                line_bottom = line_top;
            }
            Slot::Panel { w, h } => {
                let w = u32::from(w.clamp(1, GRID_COLUMNS));
                let h = u32::from(h.max(1));
                if x + w > u32::from(GRID_COLUMNS) {
                    x = 0;
                    line_top = line_bottom;
                }
                placed.push(GridPos { h, w, x, y: line_top });
                x += w;
                line_bottom = line_bottom.max(line_top + h);
            }
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_no_overlap(placed: &[GridPos]) {
        for (i, a) in placed.iter().enumerate() {
            assert!(a.x + a.w <= 24, "{a:?} leaves the grid");
            for b in &placed[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn wraps_below_the_tallest_panel_of_a_line() {
        let placed = place(&[
            Slot::Panel { w: 6, h: 6 },
            Slot::Panel { w: 12, h: 8 },
            Slot::Panel { w: 12, h: 8 },
        ]);
        assert_eq!(
            placed[1],
            GridPos {
                h: 8,
                w: 12,
                x: 6,
                y: 0
            }
        );
        assert_eq!(
            placed[2],
            GridPos {
                h: 8,
                w: 12,
                x: 0,
                y: 8
            }
        );
        assert_no_overlap(&placed);
    }

    #[test]
    fn rows_start_on_a_fresh_line() {
        let placed = place(&[
            Slot::Panel { w: 6, h: 6 },
            Slot::Row,
            Slot::Panel { w: 24, h: 3 },
            Slot::Row,
        ]);
        assert_eq!(
            placed[1],
            GridPos {
                h: 1,
                w: 24,
                x: 0,
                y: 6
            }
        );
        assert_eq!(placed[2].y, 7);
        assert_eq!(placed[3].y, 10);
        assert_no_overlap(&placed);
    }

    #[test]
    fn any_mix_of_sizes_never_overlaps() {
        let sizes = [(6, 6), (12, 8), (24, 10), (5, 3), (13, 9), (1, 1), (24, 1), (7, 4)];
        let mut slots = Vec::new();
        for i in 0..200 {
            let (w, h) = sizes[(i * 7 + i / 3) % sizes.len()];
            slots.push(if i % 17 == 0 { Slot::Row } else { Slot::Panel { w, h } });
        }
        assert_no_overlap(&place(&slots));
    }
}
