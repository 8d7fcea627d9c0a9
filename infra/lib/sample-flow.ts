import { Stack } from 'aws-cdk-lib';
import * as connect from 'aws-cdk-lib/aws-connect';
import { Construct } from 'constructs';

/** The Lambda ARN in the importable copy (infra/flows/sample-flow.json): replace it after import. */
export const PLACEHOLDER_LAMBDA_ARN = 'arn:aws:lambda:REGION:ACCOUNT_ID:function:FUNCTION_NAME';

interface FlowAction {
  Identifier: string;
  Type: string;
  Parameters: Record<string, unknown>;
  Transitions: {
    NextAction?: string;
    Conditions?: Array<{ NextAction: string; Condition: { Operator: 'Equals'; Operands: string[] } }>;
    Errors?: Array<{ NextAction: string; ErrorType: string }>;
  };
}

export interface SampleFlowOptions {
  lambdaArn: string;
  /** seconds the flow waits for the Lambda (1-8; the Lambda's own timeout must not exceed it) */
  timeLimitSeconds: number;
  /** a queue to transfer to at the end; without it the sample disconnects */
  queueArn?: string | undefined;
}

const equals = (value: string, next: string) => ({ NextAction: next, Condition: { Operator: 'Equals' as const, Operands: [value] } });
const say = (id: string, text: string, next: string): FlowAction => ({
  Identifier: id,
  Type: 'MessageParticipant',
  // Text (not SSML or a prompt) works on voice and chat alike
  Parameters: { Text: text },
  Transitions: { NextAction: next, Errors: [{ NextAction: next, ErrorType: 'NoMatchingError' }] },
});

/** A Compare on the first name: "" (the service's answer for a profile without one) goes to `noName`, any other to `named`. */
const unlessNoName = (id: string, named: string, noName: string): FlowAction => ({
  Identifier: id,
  Type: 'Compare',
  Parameters: { ComparisonValue: '$.External.firstName' },
  Transitions: {
    NextAction: named,
    Conditions: [equals('', noName)],
    Errors: [{ NextAction: named, ErrorType: 'NoMatchingCondition' }],
  },
});

/**
 * A sample inbound flow in Amazon Connect's flow language (Version 2019-10-30; actions as in the
 * Amazon Connect API reference, "Flow language actions"): ask the resolver Lambda, keep what it found
 * on the contact, then branch. Every outcome of the Lambda, UNAVAILABLE included, leads to a normal
 * greeting: the service answers UNAVAILABLE instead of failing, and a failed invocation (the
 * Lambda's NoMatchingError, which should not happen) goes the same way.
 */
export function sampleFlow(o: SampleFlowOptions): { Version: string; StartAction: string; Actions: FlowAction[] } {
  const route = o.queueArn ? 'set-queue' : 'disconnect';
  const actions: FlowAction[] = [
    {
      Identifier: 'resolve-caller',
      Type: 'InvokeLambdaFunction',
      Parameters: {
        LambdaFunctionARN: o.lambdaArn,
        // a string, as the flow designer exports it
        InvocationTimeLimitSeconds: String(o.timeLimitSeconds),
        // the service answers a flat map of strings: $.External.<key>
        ResponseValidation: { ResponseType: 'STRING_MAP' },
      },
      Transitions: { NextAction: 'keep-profile', Errors: [{ NextAction: 'greet-unknown', ErrorType: 'NoMatchingError' }] },
    },
    {
      // the profile id and status stay on the contact (contact record, agent workspace, later flows), and the
      // screen pop: the agent workspace opens the profile profileSearchKey/profileSearchValue name ("" for none)
      Identifier: 'keep-profile',
      Type: 'UpdateContactAttributes',
      Parameters: {
        TargetContact: 'Current',
        Attributes: {
          profileId: '$.External.profileId',
          customerStatus: '$.External.customerStatus',
          profileSearchKey: '$.External.profileSearchKey',
          profileSearchValue: '$.External.profileSearchValue',
        },
      },
      Transitions: { NextAction: 'check-status', Errors: [{ NextAction: 'check-status', ErrorType: 'NoMatchingError' }] },
    },
    {
      Identifier: 'check-status',
      Type: 'Compare',
      Parameters: { ComparisonValue: '$.External.customerStatus' },
      Transitions: {
        // NEW, NOT_FOUND, MULTIPLE, ANONYMOUS and UNAVAILABLE: the normal path for a caller we cannot greet by name
        NextAction: 'greet-unknown',
        Conditions: [equals('KNOWN', 'check-verification')],
        Errors: [{ NextAction: 'greet-unknown', ErrorType: 'NoMatchingCondition' }],
      },
    },
    {
      // ID&V: VERIFIED only when the flow passed a second factor (accountNumber, searchKey) and every key matched
      Identifier: 'check-verification',
      Type: 'Compare',
      Parameters: { ComparisonValue: '$.External.verification' },
      Transitions: {
        NextAction: 'check-name-known',
        Conditions: [equals('VERIFIED', 'check-name-verified'), equals('MISMATCH', 'greet-unknown')],
        Errors: [{ NextAction: 'check-name-known', ErrorType: 'NoMatchingCondition' }],
      },
    },
    // a profile without a first name answers firstName "": greet without it, never "Hello , welcome back"
    unlessNoName('check-name-verified', 'greet-verified', 'greet-verified-no-name'),
    unlessNoName('check-name-known', 'greet-known', 'greet-known-no-name'),
    say('greet-verified', 'Hello $.External.firstName, thank you, you are verified.', route),
    say('greet-verified-no-name', 'Hello, thank you, you are verified.', route),
    say('greet-known', 'Hello $.External.firstName, welcome back.', route),
    say('greet-known-no-name', 'Hello, welcome back.', route),
    say('greet-unknown', 'Hello, thank you for calling.', route),
    { Identifier: 'disconnect', Type: 'DisconnectParticipant', Parameters: {}, Transitions: {} },
  ];
  if (o.queueArn) {
    actions.push(
      {
        Identifier: 'set-queue',
        Type: 'UpdateContactTargetQueue',
        Parameters: { QueueId: o.queueArn },
        Transitions: { NextAction: 'transfer', Errors: [{ NextAction: 'disconnect', ErrorType: 'NoMatchingError' }] },
      },
      {
        Identifier: 'transfer',
        Type: 'TransferContactToQueue',
        Parameters: {},
        Transitions: {
          NextAction: 'disconnect',
          Errors: [
            { NextAction: 'disconnect', ErrorType: 'QueueAtCapacity' },
            { NextAction: 'disconnect', ErrorType: 'NoMatchingError' },
          ],
        },
      },
    );
  }
  return { Version: '2019-10-30', StartAction: 'resolve-caller', Actions: actions };
}

export interface SampleContactFlowProps extends SampleFlowOptions {
  instanceArn: string;
  name?: string;
}

/** The sample flow in the Connect instance (AWS::Connect::ContactFlow, an L1: there is no L2 for Connect). */
export class SampleContactFlow extends Construct {
  readonly flow: connect.CfnContactFlow;

  constructor(scope: Construct, id: string, props: SampleContactFlowProps) {
    super(scope, id);
    this.flow = new connect.CfnContactFlow(this, 'Flow', {
      instanceArn: props.instanceArn,
      name: props.name ?? 'Resolve caller (connect-profile-resolver sample)',
      type: 'CONTACT_FLOW',
      description: 'Looks the caller up with connect-profile-resolver, keeps the profile id and the screen pop on the contact and greets a known caller by name',
      // the Lambda ARN is a token until deploy: toJsonString renders it into the JSON string
      content: Stack.of(this).toJsonString(sampleFlow(props)),
    });
  }
}
