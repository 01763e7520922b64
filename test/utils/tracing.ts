/**
 * A tracer that keeps every span it starts (the native tracer does the work), for tests that check what spans hold.
 */
import { Effect, Tracer } from "effect"

export const recordingTracer: Effect.Effect<{
  readonly tracer: Tracer.Tracer
  readonly spans: Array<Tracer.Span>
}> = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: (f, fiber) => native.context(f, fiber)
  })
  return { tracer, spans }
})
