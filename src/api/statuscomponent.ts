// A part of the service as the public knows it ("Content generation API"), shown on the status page
// with the worst impact of the incidents that affect it. It covers workloads and alerts of its own
// namespace, so incidents that name no component still count against the right one.
import { Type, type Static } from 'typebox';
import { publicText } from './public.ts';
import { ObjectMeta, workloadRef } from './schema.ts';

export const MAX_COVERED = 32;

export const StatusComponentSpec = Type.Object({
  displayName: publicText(100, 'The name the public reads, such as "Content generation API".'),
  description: Type.Optional(publicText(500, 'One or two sentences the public reads under the name.')),
  order: Type.Integer({
    minimum: 0,
    maximum: 10_000,
    default: 100,
    description: 'Display order on the page: lower first; equal orders sort by displayName.',
  }),
  workloads: Type.Optional(
    Type.Array(
      workloadRef({
        description: 'A workload this component depends on.',
        name: "The workload's name, in the component's own namespace.",
      }),
      {
        maxItems: MAX_COVERED,
        description:
          'Incidents that name no component but target one of these workloads affect this component.',
      },
    ),
  ),
  alertNames: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
      maxItems: MAX_COVERED,
      description: 'Incidents that name no component but were raised by one of these alerts affect it.',
      'x-kubernetes-list-type': 'set',
    }),
  ),
});
export type StatusComponentSpec = Static<typeof StatusComponentSpec>;

export const StatusComponent = Type.Object({
  apiVersion: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  metadata: ObjectMeta,
  spec: StatusComponentSpec,
});
export type StatusComponent = Static<typeof StatusComponent>;
