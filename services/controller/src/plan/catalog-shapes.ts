import { type CatalogModelShape, MODEL_CATALOG } from "@strata/core";

/** Shapes of the catalog models, for the CRD's CEL rules on tp and pp. */
export function catalogShapes(): CatalogModelShape[] {
  return MODEL_CATALOG.map((m) => ({
    id: m.name,
    layers: m.numLayers,
    attentionHeads: m.numHeads,
    kvHeads: m.numKvHeads,
    experts: m.moe?.numExperts ?? 0,
  }));
}
