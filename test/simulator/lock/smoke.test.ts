import { describe, expect, it } from 'vitest';
import { SimulatedCard } from '../../../simulator/src/lock/index.js';
import { cardUid, resident, secrets, testLock } from './fixtures.js';

describe('smoke', () => {
  it('grants a doorcode, a card, and restarts', () => {
    const t = testLock({ specs: [...resident(1001, '123456'), ...resident(1002, '654321')] });
    const fw = t.device.firmware;
    expect(fw.seq).toBe(1);
    expect(fw.enterCode('123456').granted).toBe(true);
    expect(fw.enterCode('111111').reason).toBe('unknownCredential');
    expect(fw.tapCard(SimulatedCard.issue(secrets.cardMaster, cardUid(1002))).granted).toBe(true);
    const fw2 = t.device.powerCycle();
    expect(fw2.seq).toBe(1);
    expect(fw2.events.nextIndex).toBe(fw.events.nextIndex + 1);
    expect(fw2.enterCode('654321').holder).toBe(1002);
  });
});
