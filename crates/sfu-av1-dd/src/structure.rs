//! The template dependency structure (A.8.2 `template_dependency_structure`):
//! templates, decode targets, chains and render resolutions, validated on
//! construction so that the parser, the writer and the forwarding decisions
//! can rely on its invariants.

use crate::error::StructureError;
use crate::types::{
    ChainDiffs, DecodeTargetIndex, DtiList, FrameDiffs, MAX_DECODE_TARGETS, MAX_SPATIAL_LAYERS,
    MAX_TEMPLATES, MAX_TEMPORAL_LAYERS, RenderResolution, SpatialId, TemporalId,
};

/// One frame dependency template (a row of the tables in A.10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameTemplate {
    /// `TemplateSpatialId[templateIndex]`.
    pub spatial_id: SpatialId,
    /// `TemplateTemporalId[templateIndex]`.
    pub temporal_id: TemporalId,
    /// `template_dti[templateIndex][]`, one per decode target.
    pub dtis: DtiList,
    /// `TemplateFdiff[templateIndex][]`, each in `1..=16`.
    pub frame_diffs: FrameDiffs,
    /// `template_chain_fdiff[templateIndex][]`, one per chain, each in `0..=15`.
    pub chain_diffs: ChainDiffs,
}

/// A validated template dependency structure. Built by the parser from the
/// wire, or by [`TemplateStructure::new`] for the writer and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStructure {
    template_id_offset: u8,
    decode_target_count: u8,
    chain_count: u8,
    templates: Vec<FrameTemplate>,
    /// `decode_target_protected_by[dtIndex]`; meaningful below
    /// `decode_target_count` when `chain_count > 0`, zero elsewhere.
    protected_by: [u8; MAX_DECODE_TARGETS],
    /// `DecodeTargetSpatialId` / `DecodeTargetTemporalId`, derived by
    /// `decode_target_layers()`; zero past `decode_target_count`.
    dt_layers: [(SpatialId, TemporalId); MAX_DECODE_TARGETS],
    render_resolutions: Option<Vec<RenderResolution>>,
}

impl TemplateStructure {
    /// Validates and builds a structure.
    ///
    /// * `template_id_offset`: `0..=63`;
    /// * `decode_target_count`: `1..=32`;
    /// * `templates`: `1..=64`, in `template_layers()` order (see
    ///   [`StructureError::LayerOrder`]), each with one DTI per decode target,
    ///   one chain fdiff (`0..=15`) per chain and frame diffs in `1..=16`;
    /// * `chain_count`: `0..=decode_target_count`;
    /// * `protected_by`: one chain index per decode target, empty without chains;
    /// * `render_resolutions`: one per spatial layer, if present.
    pub fn new(
        template_id_offset: u8,
        decode_target_count: usize,
        templates: Vec<FrameTemplate>,
        chain_count: usize,
        protected_by: &[u8],
        render_resolutions: Option<Vec<RenderResolution>>,
    ) -> Result<Self, StructureError> {
        if template_id_offset >= 64 {
            return Err(StructureError::TemplateIdOffset(template_id_offset));
        }
        if !(1..=MAX_DECODE_TARGETS).contains(&decode_target_count) {
            return Err(StructureError::DecodeTargetCount(decode_target_count));
        }
        if !(1..=MAX_TEMPLATES).contains(&templates.len()) {
            return Err(StructureError::TemplateCount(templates.len()));
        }
        if chain_count > decode_target_count {
            return Err(StructureError::ChainCount {
                chains: chain_count,
                decode_targets: decode_target_count,
            });
        }
        let expected_protected = if chain_count == 0 {
            0
        } else {
            decode_target_count
        };
        if protected_by.len() != expected_protected {
            return Err(StructureError::ProtectedByCount {
                expected: expected_protected,
                got: protected_by.len(),
            });
        }
        if let Some((dt, &chain)) = protected_by
            .iter()
            .enumerate()
            .find(|&(_, &c)| usize::from(c) >= chain_count)
        {
            return Err(StructureError::ProtectedByChain {
                decode_target: dt,
                chain,
            });
        }
        let mut previous: Option<(u8, u8)> = None;
        for (index, t) in templates.iter().enumerate() {
            let (s, tid) = (t.spatial_id.0, t.temporal_id.0);
            if usize::from(s) >= MAX_SPATIAL_LAYERS || usize::from(tid) >= MAX_TEMPORAL_LAYERS {
                return Err(StructureError::LayerOutOfRange { index });
            }
            let follows = match previous {
                None => (s, tid) == (0, 0),
                Some((ps, pt)) => {
                    (s, tid) == (ps, pt) || (s, tid) == (ps, pt + 1) || (s, tid) == (ps + 1, 0)
                }
            };
            if !follows {
                return Err(StructureError::LayerOrder {
                    index,
                    spatial: s,
                    temporal: tid,
                });
            }
            previous = Some((s, tid));
            if t.dtis.len() != decode_target_count {
                return Err(StructureError::DtiCount {
                    index,
                    expected: decode_target_count,
                    got: t.dtis.len(),
                });
            }
            if t.chain_diffs.as_slice().len() != chain_count
                || t.chain_diffs.as_slice().iter().any(|&d| d > 15)
            {
                return Err(StructureError::TemplateChainDiffs {
                    index,
                    chains: chain_count,
                });
            }
            if let Some(&diff) = t
                .frame_diffs
                .as_slice()
                .iter()
                .find(|&&d| !(1..=16).contains(&d))
            {
                return Err(StructureError::TemplateFrameDiff { index, diff });
            }
        }
        let spatial_layers = usize::from(templates.last().map_or(0, |t| t.spatial_id.0)) + 1;
        if let Some(res) = &render_resolutions {
            let in_range = |v: u32| (1..=65536).contains(&v);
            if res.len() != spatial_layers
                || !res.iter().all(|r| in_range(r.width) && in_range(r.height))
            {
                return Err(StructureError::RenderResolutions {
                    expected: spatial_layers,
                    got: res.len(),
                });
            }
        }
        let mut protected = [0u8; MAX_DECODE_TARGETS];
        protected[..protected_by.len()].copy_from_slice(protected_by);
        Ok(Self::from_checked_parts(
            template_id_offset,
            decode_target_count as u8,
            chain_count as u8,
            templates,
            protected,
            render_resolutions,
        ))
    }

    /// Builds from parts that already satisfy every check of [`Self::new`]
    /// (the parser produces only such parts), deriving the decode target layers.
    pub(crate) fn from_checked_parts(
        template_id_offset: u8,
        decode_target_count: u8,
        chain_count: u8,
        templates: Vec<FrameTemplate>,
        protected_by: [u8; MAX_DECODE_TARGETS],
        render_resolutions: Option<Vec<RenderResolution>>,
    ) -> Self {
        // decode_target_layers() of A.8.2: the highest spatial and temporal id
        // among the templates that are present in each decode target.
        let mut dt_layers = [(SpatialId(0), TemporalId(0)); MAX_DECODE_TARGETS];
        for (dt, layer) in dt_layers
            .iter_mut()
            .enumerate()
            .take(usize::from(decode_target_count))
        {
            for t in &templates {
                if t.dtis
                    .get(DecodeTargetIndex(dt as u8))
                    .is_some_and(|d| d.is_present())
                {
                    layer.0 = layer.0.max(t.spatial_id);
                    layer.1 = layer.1.max(t.temporal_id);
                }
            }
        }
        Self {
            template_id_offset,
            decode_target_count,
            chain_count,
            templates,
            protected_by,
            dt_layers,
            render_resolutions,
        }
    }

    /// `template_id_offset`: the template id of template index 0.
    #[must_use]
    pub fn template_id_offset(&self) -> u8 {
        self.template_id_offset
    }

    /// `DtCnt`.
    #[must_use]
    pub fn decode_target_count(&self) -> usize {
        usize::from(self.decode_target_count)
    }

    /// `chain_cnt`.
    #[must_use]
    pub fn chain_count(&self) -> usize {
        usize::from(self.chain_count)
    }

    /// The templates in template index order.
    #[must_use]
    pub fn templates(&self) -> &[FrameTemplate] {
        &self.templates
    }

    /// Template index of `template_id`:
    /// `(template_id + 64 - template_id_offset) % 64` when below the template count.
    #[must_use]
    pub fn template_index(&self, template_id: u8) -> Option<usize> {
        let index = usize::from(
            (template_id & 63)
                .wrapping_add(64)
                .wrapping_sub(self.template_id_offset)
                & 63,
        );
        (index < self.templates.len()).then_some(index)
    }

    /// The template that `template_id` selects.
    #[must_use]
    pub fn template(&self, template_id: u8) -> Option<&FrameTemplate> {
        self.template_index(template_id).map(|i| &self.templates[i])
    }

    /// The template id that selects template `index`.
    #[must_use]
    pub fn template_id_of(&self, index: usize) -> u8 {
        ((usize::from(self.template_id_offset) + index) % 64) as u8
    }

    /// `decode_target_protected_by[]`: the chain protecting each decode target
    /// (empty when the structure has no chains).
    #[must_use]
    pub fn protected_by(&self) -> &[u8] {
        if self.chain_count == 0 {
            &[]
        } else {
            &self.protected_by[..self.decode_target_count()]
        }
    }

    /// The chain protecting decode target `dt`, if chains are used.
    #[must_use]
    pub fn chain_of(&self, dt: DecodeTargetIndex) -> Option<usize> {
        self.protected_by()
            .get(usize::from(dt.0))
            .map(|&c| usize::from(c))
    }

    /// `DecodeTargetSpatialId[dt]` and `DecodeTargetTemporalId[dt]`.
    #[must_use]
    pub fn decode_target_layer(&self, dt: DecodeTargetIndex) -> Option<(SpatialId, TemporalId)> {
        (usize::from(dt.0) < self.decode_target_count()).then(|| self.dt_layers[usize::from(dt.0)])
    }

    /// `MaxSpatialId`: the spatial id of the last template.
    #[must_use]
    pub fn max_spatial_id(&self) -> SpatialId {
        // `new` and the parser both refuse an empty template list.
        self.templates.last().map_or(SpatialId(0), |t| t.spatial_id)
    }

    /// `max_render_width/height_minus_1 + 1` per spatial layer, if signalled.
    #[must_use]
    pub fn render_resolutions(&self) -> Option<&[RenderResolution]> {
        self.render_resolutions.as_deref()
    }

    /// The best decode target within a subscriber's limits: the one with the
    /// highest spatial, then temporal id not above `max_spatial` /
    /// `max_temporal`, among those active in `active`. Ties go to the lower index.
    #[must_use]
    pub fn decode_target_for(
        &self,
        max_spatial: SpatialId,
        max_temporal: TemporalId,
        active: crate::types::DecodeTargetMask,
    ) -> Option<DecodeTargetIndex> {
        (0..self.decode_target_count)
            .map(DecodeTargetIndex)
            .filter(|&dt| active.contains(dt))
            .filter_map(|dt| self.decode_target_layer(dt).map(|l| (dt, l)))
            .filter(|&(_, (s, t))| s <= max_spatial && t <= max_temporal)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(dt, _)| dt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DecodeTargetMask, Dti};

    fn template(s: u8, t: u8, dtis: &[Dti]) -> FrameTemplate {
        FrameTemplate {
            spatial_id: SpatialId(s),
            temporal_id: TemporalId(t),
            dtis: DtiList::from_slice(dtis).unwrap(),
            ..FrameTemplate::default()
        }
    }

    #[test]
    fn decode_target_layers_take_the_highest_present_template() {
        use Dti::*;
        let s = TemplateStructure::new(
            0,
            3,
            vec![
                template(0, 0, &[Switch, Switch, Switch]),
                template(0, 1, &[Required, Discardable, NotPresent]),
                template(1, 0, &[Required, NotPresent, NotPresent]),
            ],
            0,
            &[],
            None,
        )
        .unwrap();
        assert_eq!(
            s.decode_target_layer(DecodeTargetIndex(0)),
            Some((SpatialId(1), TemporalId(1)))
        );
        assert_eq!(
            s.decode_target_layer(DecodeTargetIndex(1)),
            Some((SpatialId(0), TemporalId(1)))
        );
        assert_eq!(
            s.decode_target_layer(DecodeTargetIndex(2)),
            Some((SpatialId(0), TemporalId(0)))
        );
        assert_eq!(s.decode_target_layer(DecodeTargetIndex(3)), None);
        let all = DecodeTargetMask::all(3);
        assert_eq!(
            s.decode_target_for(SpatialId(0), TemporalId(7), all),
            Some(DecodeTargetIndex(1))
        );
        assert_eq!(
            s.decode_target_for(SpatialId(3), TemporalId(7), DecodeTargetMask(0b110)),
            Some(DecodeTargetIndex(1))
        );
    }

    #[test]
    fn template_ids_wrap_modulo_64_from_the_offset() {
        let s =
            TemplateStructure::new(62, 1, vec![template(0, 0, &[Dti::Switch]); 4], 0, &[], None)
                .unwrap();
        assert_eq!(s.template_index(62), Some(0));
        assert_eq!(s.template_index(1), Some(3));
        assert_eq!(s.template_index(2), None);
        assert_eq!(s.template_index(61), None);
        assert_eq!(s.template_id_of(3), 1);
    }

    #[test]
    fn rejects_layer_orders_template_layers_cannot_express() {
        let bad = [(0, 1), (1, 0)];
        let err = TemplateStructure::new(
            0,
            1,
            bad.iter()
                .map(|&(s, t)| template(s, t, &[Dti::Switch]))
                .collect(),
            0,
            &[],
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            StructureError::LayerOrder {
                index: 0,
                spatial: 0,
                temporal: 1
            }
        );
        let skip = [(0, 0), (0, 2)];
        assert!(
            TemplateStructure::new(
                0,
                1,
                skip.iter()
                    .map(|&(s, t)| template(s, t, &[Dti::Switch]))
                    .collect(),
                0,
                &[],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_chain_tables_that_do_not_match_the_chain_count() {
        let t = template(0, 0, &[Dti::Switch, Dti::Switch]);
        assert_eq!(
            TemplateStructure::new(0, 2, vec![t], 1, &[0, 0], None).unwrap_err(),
            StructureError::TemplateChainDiffs {
                index: 0,
                chains: 1
            }
        );
        let mut with_chain = t;
        with_chain.chain_diffs = ChainDiffs::from_slice(&[0]).unwrap();
        assert_eq!(
            TemplateStructure::new(0, 2, vec![with_chain], 1, &[0, 1], None).unwrap_err(),
            StructureError::ProtectedByChain {
                decode_target: 1,
                chain: 1
            }
        );
        assert!(TemplateStructure::new(0, 2, vec![with_chain], 1, &[0, 0], None).is_ok());
        assert!(TemplateStructure::new(0, 2, vec![with_chain], 3, &[0, 0], None).is_err());
    }

    #[test]
    fn rejects_out_of_range_counts_and_values() {
        let t = template(0, 0, &[Dti::Switch]);
        assert!(TemplateStructure::new(64, 1, vec![t], 0, &[], None).is_err());
        assert!(TemplateStructure::new(0, 0, vec![t], 0, &[], None).is_err());
        assert!(TemplateStructure::new(0, 1, vec![], 0, &[], None).is_err());
        assert!(TemplateStructure::new(0, 1, vec![t; 65], 0, &[], None).is_err());
        let mut far = t;
        far.frame_diffs = FrameDiffs::from_slice(&[17]).unwrap();
        assert!(TemplateStructure::new(0, 1, vec![far], 0, &[], None).is_err());
        let res = RenderResolution {
            width: 0,
            height: 10,
        };
        assert!(TemplateStructure::new(0, 1, vec![t], 0, &[], Some(vec![res])).is_err());
    }
}
